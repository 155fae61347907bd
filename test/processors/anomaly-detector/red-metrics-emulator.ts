/**
 * Metric samples shaped exactly like red-metrics' output (schemas/metric-sample.avsc), for driving the
 * anomaly detector without the capture chain: `http.server.request.duration` and
 * `http.client.request.duration` histograms (unit s, the semantic-convention bucket boundaries), labels
 * service.name, http.route, http.request.method, http.response.status_code and error.type (on 5xx), an
 * exemplar reservoir with trace ids, cumulative per stream `red-metrics/<partition>` — the partition of the
 * span's trace id — plus a service-graph series the detector must ignore.
 *
 * Traffic follows the demo topology (docs/demo.md): client → gateway → orders → inventory, with the demo's
 * faults: `latencyMs` delays every response of a service (and so its callers), `errorRate` answers that
 * share of its requests 500 or 503, and a failed upstream call makes the caller answer 502.
 */

import { seededRandom } from '../../../lib/seeded-random.ts';
import { seriesIdOf } from '../../../runtime/metric-definition.ts';
import type { MetricSample } from '../../../schemas/types.ts';

/** OpenTelemetry semantic conventions: http.server.request.duration / http.client.request.duration. */
export const SEMCONV_BOUNDS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];

interface Series {
  name: string;
  labels: Record<string, string>;
  stream: string;
  count: bigint;
  sum: number;
  buckets: bigint[];
  /** The latest exemplar of every bucket, as red-metrics keeps them. */
  exemplars: Array<MetricSample['exemplars'][number] | null>;
}

export interface Observation {
  metric: 'http.server.request.duration' | 'http.client.request.duration';
  service: string;
  /** The caller (server side) or the callee (client side), when captured. */
  peer?: string;
  route: string;
  method: string;
  status: number;
  seconds: number;
  traceId: string;
  atMs: number;
}

export class RedMetricsEmulator {
  readonly partitions: number;
  readonly #series = new Map<string, Series>();
  /** Stream start per partition (a restarted stream gets a new one). */
  readonly #starts: bigint[];

  constructor(options: { partitions?: number; startMs: number }) {
    this.partitions = options.partitions ?? 3;
    this.#starts = Array.from({ length: this.partitions }, () => BigInt(options.startMs) * 1_000_000n);
  }

  /** red-metrics instance `partition` restarted: its cumulative values begin again from zero. */
  restartStream(partition: number, atMs: number): void {
    this.#starts[partition] = BigInt(atMs) * 1_000_000n;
    for (const s of this.#series.values()) {
      if (s.stream !== `red-metrics/${partition}`) continue;
      s.count = 0n;
      s.sum = 0;
      s.buckets = s.buckets.map(() => 0n);
      s.exemplars = s.exemplars.map(() => null);
    }
  }

  observe(o: Observation): void {
    const partition = Number.parseInt(o.traceId.slice(0, 8), 16) % this.partitions;
    const labels: Record<string, string> = {
      'service.name': o.service,
      'http.route': o.route,
      'http.request.method': o.method,
      'http.response.status_code': String(o.status),
    };
    if (o.status >= 500) labels['error.type'] = String(o.status);
    if (o.peer !== undefined) labels['peer.service'] = o.peer;
    const stream = `red-metrics/${partition}`;
    const id = `${seriesIdOf(o.metric, labels)}|${stream}`;
    let series = this.#series.get(id);
    if (series === undefined) {
      series = {
        name: o.metric,
        labels,
        stream,
        count: 0n,
        sum: 0,
        buckets: new Array<bigint>(SEMCONV_BOUNDS.length + 1).fill(0n),
        exemplars: new Array(SEMCONV_BOUNDS.length + 1).fill(null),
      };
      this.#series.set(id, series);
    }
    let i = 0;
    while (i < SEMCONV_BOUNDS.length && o.seconds > SEMCONV_BOUNDS[i]!) i++;
    series.buckets[i]!++;
    series.count++;
    series.sum += o.seconds;
    series.exemplars[i] = {
      traceId: o.traceId,
      spanId: o.traceId.slice(0, 16),
      value: o.seconds,
      timeUnixNano: BigInt(Math.round(o.atMs * 1000)) * 1000n,
    };
  }

  /** Every series of every stream, cumulative, at `atMs` (what red-metrics emits per flush). */
  flush(atMs: number): MetricSample[] {
    const time = BigInt(Math.round(atMs)) * 1_000_000n;
    const out: MetricSample[] = [];
    for (const s of this.#series.values()) {
      const partition = Number(s.stream.split('/')[1]);
      out.push({
        name: s.name,
        description: 'Duration of HTTP server requests.',
        unit: 's',
        type: 'HISTOGRAM',
        labels: s.labels,
        seriesId: seriesIdOf(s.name, s.labels),
        stream: s.stream,
        startTimeUnixNano: this.#starts[partition]!,
        timeUnixNano: time,
        value: s.sum,
        histogram: { count: s.count, sum: s.sum, bounds: SEMCONV_BOUNDS, bucketCounts: [...s.buckets] },
        exemplars: s.exemplars.filter((e) => e !== null),
      });
    }
    // A service-graph counter and a pipeline-health gauge share the topic; the detector ignores them.
    const edge = { client: 'gateway', server: 'orders' };
    out.push({
      name: 'traces_service_graph_request_total',
      description: 'Requests between two services.',
      unit: '{request}',
      type: 'COUNTER',
      labels: edge,
      seriesId: seriesIdOf('traces_service_graph_request_total', edge),
      stream: 'red-metrics/0',
      startTimeUnixNano: this.#starts[0]!,
      timeUnixNano: time,
      value: 1,
      histogram: null,
      exemplars: [],
    });
    return out;
  }
}

export interface Fault {
  latencyMs?: number;
  errorRate?: number;
}

export type ServiceName = 'gateway' | 'orders' | 'inventory';

/**
 * The demo topology's traffic, one request at a time: routes and their mix, per-service base latency
 * with log-normal noise, the call chain and the demo's fault semantics.
 */
export class DemoTraffic {
  readonly faults: Record<ServiceName, Fault> = { gateway: {}, orders: {}, inventory: {} };
  readonly #random: () => number;
  #traces = 0;

  constructor(seed = 1) {
    this.#random = seededRandom(seed);
  }

  setFault(service: ServiceName, fault: Fault): void {
    this.faults[service] = fault;
  }

  /** Log-normal noise around `ms`, so quantiles wobble like real ones. */
  #latency(ms: number): number {
    const u = Math.max(1e-9, this.#random());
    const v = this.#random();
    const normal = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    return (ms * Math.exp(0.35 * normal)) / 1000;
  }

  #traceId(): string {
    this.#traces++;
    const hex = (n: number) =>
      Math.floor(n * 0xffffffff)
        .toString(16)
        .padStart(8, '0');
    return `${hex(this.#random())}${hex(this.#random())}${hex(this.#random())}${this.#traces.toString(16).padStart(8, '0')}`;
  }

  /** Applies a service's fault: returns its extra seconds and whether it fails (with 500 or 503). */
  #fault(service: ServiceName): { extra: number; failure: number | undefined } {
    const f = this.faults[service];
    const failure = this.#random() < (f.errorRate ?? 0) ? (this.#random() < 0.5 ? 500 : 503) : undefined;
    return { extra: (f.latencyMs ?? 0) / 1000, failure };
  }

  /** One request into the gateway at `atMs`; its observations for the emulator. */
  request(atMs: number): Observation[] {
    const traceId = this.#traceId();
    const out: Observation[] = [];
    const pick = this.#random();
    const server = (service: string, route: string, method: string, status: number, seconds: number) =>
      out.push({
        metric: 'http.server.request.duration',
        service,
        route,
        method,
        status,
        seconds,
        traceId,
        atMs,
      });
    const client = (service: string, route: string, method: string, status: number, seconds: number) =>
      out.push({
        metric: 'http.client.request.duration',
        service,
        route,
        method,
        status,
        seconds,
        traceId,
        atMs,
      });

    if (pick < 0.05) {
      server('gateway', '/unknown', 'GET', 404, this.#latency(0.4));
      return out;
    }
    const read = pick < 0.8;
    const unknown = this.#random() < (read ? 0.09 : 0.05);
    // inventory, called 1–3 times by orders
    let inventorySeconds = 0;
    let inventoryFailed = false;
    const calls = unknown ? 0 : 1 + Math.floor(this.#random() * 3);
    for (let i = 0; i < calls && !inventoryFailed; i++) {
      const f = this.#fault('inventory');
      const seconds = this.#latency(1.2) + f.extra;
      const status = f.failure ?? 200;
      server('inventory', '/inventory/:sku', 'GET', status, seconds);
      client('orders', '/inventory/:sku', 'GET', status, seconds + 0.0002);
      inventorySeconds += seconds + 0.0002;
      inventoryFailed = f.failure !== undefined;
    }
    const of = this.#fault('orders');
    const ordersStatus =
      of.failure ?? (inventoryFailed ? 502 : unknown ? (read ? 404 : 422) : read ? 200 : 201);
    const ordersSeconds = this.#latency(0.8) + inventorySeconds + of.extra;
    const ordersRoute = read ? '/orders/:id' : '/orders';
    server('orders', ordersRoute, read ? 'GET' : 'POST', ordersStatus, ordersSeconds);
    client('gateway', ordersRoute, read ? 'GET' : 'POST', ordersStatus, ordersSeconds + 0.0003);
    const gf = this.#fault('gateway');
    const gatewayStatus = gf.failure ?? (ordersStatus >= 500 ? 502 : ordersStatus);
    server(
      'gateway',
      read ? '/api/orders/:id' : '/api/orders',
      read ? 'GET' : 'POST',
      gatewayStatus,
      this.#latency(0.6) + ordersSeconds + 0.0003 + gf.extra,
    );
    return out;
  }
}
