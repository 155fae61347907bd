/**
 * The collector's own metrics, measured once (capture-counters.ts, plain numbers on the hot path) and
 * exported twice, like the processors' pipeline health:
 *
 *   - Prometheus exposition (prom-client) on `collector.metricsPort`, for scraping the node directly;
 *   - MetricSample records on `<prefix>.metrics.v1` every `collector.metricsIntervalMs`, stream
 *     `collector/<node>`, cumulative since the collector started (`startTimeUnixNano`), so the Prometheus
 *     sink shows every node's capture health from one place and a restart is a new stream.
 *
 * Names follow OpenTelemetry (the sample name) and its Prometheus mapping (the exposition name);
 * docs/collector.md lists them with what each means.
 */
import { Counter, collectDefaultMetrics, Gauge, type Metric, Registry } from 'prom-client';
import type { Http1FramerCounters } from '../protocols/http1/framer.ts';
import { type MetricDefinition, seriesIdOf } from '../runtime/metric-definition.ts';
import type { MetricSample, MetricType } from '../schemas/types.ts';
import type { Http2CollectorCounters } from './build/http2-connection.ts';
import type { LookupCounters } from './build/identity/kubernetes/cluster-index.ts';
import type { ReflectorCounters } from './build/identity/kubernetes/reflector.ts';
import type { ProcessTableCounters } from './build/identity/process-table.ts';
import type { CaptureCounters } from './capture-counters.ts';

export interface KubernetesSnapshot {
  objects: Record<string, number>;
  watches: Record<string, ReflectorCounters>;
  lookups: LookupCounters;
}

/** The collector's metrics are counters and gauges (one naming scheme with every component's). */
type CollectorMetric = MetricDefinition & { type: Exclude<MetricType, 'HISTOGRAM'> };

/** Every metric of the collector. */
export const COLLECTOR_METRICS = {
  captured: {
    otel: 'meshpipe.collector.events.captured',
    prometheus: 'meshpipe_collector_events_captured_total',
    type: 'COUNTER',
    unit: '{event}',
    help: 'Raw events built from the capture, by kind (DATA, OPEN, CLOSE, CONNECT_FAILED). Each is produced, buffered, or counted in meshpipe_collector_dropped_total with stage agent or kafka.',
    labels: ['kind'],
  },
  capturedBytes: {
    otel: 'meshpipe.collector.captured.bytes',
    prometheus: 'meshpipe_collector_captured_bytes_total',
    type: 'COUNTER',
    unit: 'By',
    help: 'Bytes moved by the traced HTTP/1.x syscalls (byte counts, not copies), by direction.',
    labels: ['direction'],
  },
  kernelRecords: {
    otel: 'meshpipe.collector.kernel.records',
    prometheus: 'meshpipe_collector_kernel_records_total',
    type: 'COUNTER',
    unit: '{record}',
    help: 'Records the loader read from the kernel ring buffer.',
    labels: [],
  },
  dropped: {
    otel: 'meshpipe.collector.dropped',
    prometheus: 'meshpipe_collector_dropped_total',
    type: 'COUNTER',
    unit: '{record}',
    help: 'Records or events lost, by stage (kernel, loader, agent, kafka) and reason. Kernel reasons are the losses of enum mp_drop_reason; truncations are in meshpipe_collector_truncated_total. See docs/collector.md.',
    labels: ['stage', 'reason'],
  },
  truncated: {
    otel: 'meshpipe.collector.truncated',
    prometheus: 'meshpipe_collector_truncated_total',
    type: 'COUNTER',
    unit: '{record}',
    help: 'Records that arrived shortened, not lost, by stage and reason: kernel iov_limit and read_payload (the record is flagged, its payload incomplete), agent head_over_capture (a head longer than collector.capBytes, shipped cut). See docs/collector.md.',
    labels: ['stage', 'reason'],
  },
  excluded: {
    otel: 'meshpipe.collector.events.excluded',
    prometheus: 'meshpipe_collector_events_excluded_total',
    type: 'COUNTER',
    unit: '{event}',
    help: "Events not captured on purpose, by reason (self: meshpipe's own processes).",
    labels: ['reason'],
  },
  produced: {
    otel: 'meshpipe.collector.events.produced',
    prometheus: 'meshpipe_collector_events_produced_total',
    type: 'COUNTER',
    unit: '{event}',
    help: 'Raw events Kafka acknowledged (acks=all).',
    labels: [],
  },
  produceErrors: {
    otel: 'meshpipe.collector.produce.errors',
    prometheus: 'meshpipe_collector_produce_errors_total',
    type: 'COUNTER',
    unit: '{request}',
    help: 'Produce requests that failed after their retries, by error; their events are in dropped{stage="kafka"}.',
    labels: ['error'],
  },
  bufferEvents: {
    otel: 'meshpipe.collector.buffer.events',
    prometheus: 'meshpipe_collector_buffer_events',
    type: 'GAUGE',
    unit: '{event}',
    help: 'Encoded events waiting for Kafka.',
    labels: [],
  },
  bufferBytes: {
    otel: 'meshpipe.collector.buffer.size',
    prometheus: 'meshpipe_collector_buffer_size_bytes',
    type: 'GAUGE',
    unit: 'By',
    help: 'Bytes of encoded events waiting for Kafka.',
    labels: [],
  },
  bufferCapacity: {
    otel: 'meshpipe.collector.buffer.capacity',
    prometheus: 'meshpipe_collector_buffer_capacity',
    type: 'GAUGE',
    // A count of events or of bytes (the `unit` label says which): an annotation, not a ratio.
    unit: '{limit}',
    help: 'Limits of the buffer (unit events or bytes): beyond either, events are dropped.',
    labels: ['unit'],
  },
  connections: {
    otel: 'meshpipe.collector.connections',
    prometheus: 'meshpipe_collector_connections',
    type: 'GAUGE',
    unit: '{connection}',
    help: 'HTTP connections the agent tracks (framer state).',
    labels: [],
  },
  connectionsEvicted: {
    otel: 'meshpipe.collector.connections.evicted',
    prometheus: 'meshpipe_collector_connections_evicted_total',
    type: 'COUNTER',
    unit: '{connection}',
    help: "Connections evicted from the agent's table (least recently used) because it was full.",
    labels: [],
  },
  connectionsExited: {
    otel: 'meshpipe.collector.connections.exited',
    prometheus: 'meshpipe_collector_connections_exited_total',
    type: 'COUNTER',
    unit: '{connection}',
    help: 'Connections forgotten because their process exited without close() (the kernel closed them: no CLOSE record).',
    labels: [],
  },
  loaderRestarts: {
    otel: 'meshpipe.collector.loader.restarts',
    prometheus: 'meshpipe_collector_loader_restarts_total',
    type: 'COUNTER',
    unit: '{restart}',
    help: 'Times the eBPF loader was restarted after it stopped or failed.',
    labels: [],
  },
  loaderCpu: {
    otel: 'meshpipe.collector.loader.cpu',
    prometheus: 'meshpipe_collector_loader_cpu_seconds_total',
    type: 'COUNTER',
    unit: 's',
    help: 'CPU time of the running eBPF loader process (user + system).',
    labels: [],
  },
  loaderMemory: {
    otel: 'meshpipe.collector.loader.resident_memory',
    prometheus: 'meshpipe_collector_loader_resident_memory_bytes',
    type: 'GAUGE',
    unit: 'By',
    help: 'Resident memory of the eBPF loader process (includes the touched pages of the ring buffer).',
    labels: [],
  },
  redactions: {
    otel: 'meshpipe.collector.redactions',
    prometheus: 'meshpipe_collector_redactions_total',
    type: 'COUNTER',
    unit: '{value}',
    help: 'Header and query values replaced by the redaction marker before leaving the node.',
    labels: [],
  },
  lossHints: {
    otel: 'meshpipe.collector.loss.hints',
    prometheus: 'meshpipe_collector_loss_hints_total',
    type: 'COUNTER',
    unit: '{event}',
    help: 'Events framed as possibly following lost records (heads open across them were released cut).',
    labels: [],
  },
  unseenBytes: {
    otel: 'meshpipe.collector.unseen.bytes',
    prometheus: 'meshpipe_collector_unseen_bytes_total',
    type: 'COUNTER',
    unit: 'By',
    help: 'Bytes the kernel counted on closed connections that no captured record carried (end-to-end loss check).',
    labels: [],
  },
  protocol: {
    otel: 'meshpipe.collector.protocol.events',
    prometheus: 'meshpipe_collector_protocol_events_total',
    type: 'COUNTER',
    unit: '{event}',
    help: 'Protocol decoder counters by protocol and counter: http1 (requests, responses, truncatedHeads, resyncs, invalidHeads.<reason>...), http2 (frames, gaps.<reason>, headerBlocks, unresolvedReferences, hpackErrors.<error>, quietRecords...).',
    labels: ['protocol', 'counter'],
  },
  tlsBinaries: {
    otel: 'meshpipe.collector.tls.binaries.attached',
    prometheus: 'meshpipe_collector_tls_binaries_attached',
    type: 'GAUGE',
    unit: '{file}',
    help: 'Files with TLS uprobes attached (each libssl, each executable with OpenSSL in it such as node), by path: one file probes every process that maps it.',
    labels: ['path'],
  },
  tlsEvents: {
    otel: 'meshpipe.collector.tls.events',
    prometheus: 'meshpipe_collector_tls_events_total',
    type: 'COUNTER',
    unit: '{event}',
    help: 'Data records of TLS plaintext read through the uprobes on OpenSSL, by direction (they are also in events_captured{kind="DATA"}).',
    labels: ['direction'],
  },
  processLookups: {
    otel: 'meshpipe.collector.process.lookups',
    prometheus: 'meshpipe_collector_process_lookups_total',
    type: 'COUNTER',
    unit: '{lookup}',
    help: 'Process identity lookups, by result (cached, read from /proc, exited: the process was gone).',
    labels: ['result'],
  },
  kubernetesObjects: {
    otel: 'meshpipe.collector.kubernetes.objects',
    prometheus: 'meshpipe_collector_kubernetes_objects',
    type: 'GAUGE',
    unit: '{object}',
    help: 'Kubernetes objects cached by the decorator (slim records), by resource (pods, services, replicasets, jobs).',
    labels: ['resource'],
  },
  kubernetesWatchRestarts: {
    otel: 'meshpipe.collector.kubernetes.watch.restarts',
    prometheus: 'meshpipe_collector_kubernetes_watch_restarts_total',
    type: 'COUNTER',
    unit: '{restart}',
    help: 'Kubernetes watches re-established, by resource and reason (closed: the server ended it; gone: 410, relisted; error: failed, retried with backoff).',
    labels: ['resource', 'reason'],
  },
  kubernetesLists: {
    otel: 'meshpipe.collector.kubernetes.lists',
    prometheus: 'meshpipe_collector_kubernetes_lists_total',
    type: 'COUNTER',
    unit: '{list}',
    help: 'Full lists of a Kubernetes resource (the first one, then after a 410 or repeated failures).',
    labels: ['resource'],
  },
  kubernetesLookups: {
    otel: 'meshpipe.collector.kubernetes.lookups',
    prometheus: 'meshpipe_collector_kubernetes_lookups_total',
    type: 'COUNTER',
    unit: '{lookup}',
    help: 'Kubernetes identity lookups (once per connection), by lookup (pod_uid: a cgroup, pod_ip: a local address, peer: the other end) and result (hit, miss).',
    labels: ['lookup', 'result'],
  },
} as const satisfies Record<string, CollectorMetric>;

type Name = keyof typeof COLLECTOR_METRICS;

/** Everything the metrics are computed from, read when scraped or published. */
export interface CollectorSnapshot {
  counters: CaptureCounters;
  buffer: { events: number; bytes: number; maxEvents: number; maxBytes: number } | null;
  connections: number;
  framer: Http1FramerCounters;
  /** HTTP/2 connections' counters, flattened (collectors/build/http2-connection.ts). */
  h2: Http2CollectorCounters;
  processLookups: ProcessTableCounters;
  /** The Kubernetes decorator's caches and watches; null when it is off. */
  kubernetes: KubernetesSnapshot | null;
  /** The loader's CPU over all its runs, and the running one's memory; null while none runs. */
  loader: { cpuSecondsTotal: number; rssBytes: number } | null;
  /** Files with TLS uprobes attached, by path. */
  tlsBinaries: ReadonlyMap<string, number>;
}

export class CollectorMetrics {
  readonly registry = new Registry();
  readonly #metrics: Record<Name, Counter | Gauge>;
  /** Last value exported per counter series: prom-client counters only go up by `inc`. */
  readonly #exported = new Map<string, number>();
  readonly #snapshot: () => CollectorSnapshot;

  constructor(snapshot: () => CollectorSnapshot, options: { processMetrics?: boolean } = {}) {
    this.#snapshot = snapshot;
    const metrics: Partial<Record<Name, Counter | Gauge>> = {};
    for (const [key, d] of Object.entries(COLLECTOR_METRICS) as Array<[Name, CollectorMetric]>) {
      const common = {
        name: d.prometheus,
        help: d.help,
        labelNames: [...d.labels],
        registers: [this.registry],
      };
      metrics[key] = d.type === 'COUNTER' ? new Counter(common) : new Gauge(common);
    }
    this.#metrics = metrics as Record<Name, Counter | Gauge>;
    // The agent process's own CPU, memory, event-loop delay and GC: Prometheus exposition only.
    if (options.processMetrics !== false) collectDefaultMetrics({ register: this.registry });
  }

  /** Brings every series up to date with the snapshot. */
  refresh(): void {
    const s = this.#snapshot();
    const c = s.counters;
    for (const [kind, n] of Object.entries(c.events)) this.#count('captured', { kind }, n);
    this.#count('capturedBytes', { direction: 'egress' }, c.bytes.egress);
    this.#count('capturedBytes', { direction: 'ingress' }, c.bytes.ingress);
    this.#count('kernelRecords', {}, c.kernelRecords);
    for (const [key, n] of c.dropped) {
      const slash = key.indexOf('/');
      this.#count('dropped', { stage: key.slice(0, slash), reason: key.slice(slash + 1) }, n);
    }
    for (const [key, n] of c.truncated) {
      const slash = key.indexOf('/');
      this.#count('truncated', { stage: key.slice(0, slash), reason: key.slice(slash + 1) }, n);
    }
    for (const [reason, n] of Object.entries(c.excluded)) this.#count('excluded', { reason }, n);
    this.#count('produced', {}, c.produced);
    for (const [error, n] of Object.entries(c.produceErrors)) this.#count('produceErrors', { error }, n);
    if (s.buffer !== null) {
      this.#set('bufferEvents', {}, s.buffer.events);
      this.#set('bufferBytes', {}, s.buffer.bytes);
      this.#set('bufferCapacity', { unit: 'events' }, s.buffer.maxEvents);
      this.#set('bufferCapacity', { unit: 'bytes' }, s.buffer.maxBytes);
    }
    this.#set('connections', {}, s.connections);
    this.#count('connectionsEvicted', {}, c.connectionsEvicted);
    this.#count('connectionsExited', {}, c.connectionsExited);
    this.#count('loaderRestarts', {}, c.loaderRestarts);
    if (s.loader !== null) {
      this.#count('loaderCpu', {}, s.loader.cpuSecondsTotal);
      this.#set('loaderMemory', {}, s.loader.rssBytes);
    }
    this.#count('redactions', {}, c.redactions);
    this.#count('lossHints', {}, c.lossHints);
    this.#count('unseenBytes', {}, c.unseenBytes);
    for (const [counter, value] of Object.entries(s.framer)) {
      if (typeof value === 'number') this.#count('protocol', { protocol: 'http1', counter }, value);
      else
        for (const [reason, n] of Object.entries(value as Record<string, number>))
          this.#count('protocol', { protocol: 'http1', counter: `${counter}.${reason}` }, n);
    }
    for (const [counter, n] of Object.entries(s.h2))
      this.#count('protocol', { protocol: 'http2', counter }, n);
    // Gone paths must leave the exposition, not stay at their last value.
    (this.#metrics.tlsBinaries as Gauge).reset();
    for (const [path, n] of s.tlsBinaries) this.#set('tlsBinaries', { path }, n);
    this.#count('tlsEvents', { direction: 'egress' }, c.tlsEvents.egress);
    this.#count('tlsEvents', { direction: 'ingress' }, c.tlsEvents.ingress);
    const p = s.processLookups;
    this.#count('processLookups', { result: 'cached' }, p.lookups - p.reads);
    this.#count('processLookups', { result: 'read' }, p.reads - p.exited);
    this.#count('processLookups', { result: 'exited' }, p.exited);
    const k = s.kubernetes;
    if (k !== null) {
      for (const [resource, n] of Object.entries(k.objects)) this.#set('kubernetesObjects', { resource }, n);
      for (const [resource, w] of Object.entries(k.watches)) {
        this.#count('kubernetesLists', { resource }, w.lists);
        for (const [reason, n] of Object.entries(w.restarts))
          this.#count('kubernetesWatchRestarts', { resource, reason }, n);
      }
      for (const [lookup, r] of Object.entries(k.lookups)) {
        this.#count('kubernetesLookups', { lookup, result: 'hit' }, r.hit);
        this.#count('kubernetesLookups', { lookup, result: 'miss' }, r.miss);
      }
    }
  }

  #count(name: Name, labels: Record<string, string>, total: number): void {
    const id = `${name}${JSON.stringify(labels)}`;
    const last = this.#exported.get(id) ?? 0;
    if (total > last) {
      (this.#metrics[name] as Counter).inc(labels, total - last);
      this.#exported.set(id, total);
    } else if (!this.#exported.has(id)) {
      (this.#metrics[name] as Counter).inc(labels, 0);
      this.#exported.set(id, total);
    }
  }

  #set(name: Name, labels: Record<string, string>, value: number): void {
    (this.#metrics[name] as Gauge).set(labels, value);
  }

  /** The Prometheus text exposition. */
  async exposition(): Promise<string> {
    this.refresh();
    return this.registry.metrics();
  }

  /** Every collector series as MetricSample records of one stream. */
  async samples(stream: string, startTimeUnixNano: bigint, nowMs: number): Promise<MetricSample[]> {
    this.refresh();
    const time = BigInt(Math.trunc(nowMs)) * 1_000_000n;
    const out: MetricSample[] = [];
    for (const [key, d] of Object.entries(COLLECTOR_METRICS) as Array<[Name, CollectorMetric]>) {
      const data = await (this.#metrics[key] as Metric).get();
      for (const v of data.values) {
        const labels: Record<string, string> = {};
        for (const [k, value] of Object.entries(v.labels)) labels[k] = String(value);
        out.push({
          name: d.otel,
          description: d.help,
          unit: d.unit,
          type: d.type,
          labels,
          seriesId: seriesIdOf(d.otel, labels),
          stream,
          startTimeUnixNano,
          timeUnixNano: time,
          value: v.value,
          histogram: null,
          exemplars: [],
        });
      }
    }
    return out;
  }
}
