/**
 * The capture half of the collector, shared by `meshpipe collect` (to Kafka), `meshpipe record` (to a
 * file) and `meshpipe observe` (to the terminal): the loader, identity resolution, and the raw-event
 * builder with the configured redaction. Whatever the destination, events are built, redacted and
 * minimised the same way — a recording or `observe --json` shows exactly what would go to Kafka.
 */
import { existsSync } from 'node:fs';
import type { MeshpipeConfig } from '../lib/config/meshpipe-config.ts';
import type { Logger } from '../lib/logger.ts';
import { compileRedactionPolicy } from '../protocols/http1/redact.ts';
import { CgroupDirectory } from './build/identity/cgroup-directory.ts';
import {
  IdentityResolver,
  type SelfFilter,
  selfFilterFromEnvironment,
} from './build/identity/identity-resolver.ts';
import {
  KubernetesDecorator,
  kubernetesSource,
  loadKubeConfig,
} from './build/identity/kubernetes/kubernetes-decorator.ts';
import { NetnsNames } from './build/identity/netns-names.ts';
import { ProcessTable } from './build/identity/process-table.ts';
import { WorkloadRules } from './build/identity/workload-rules.ts';
import { RawEventBuilder, type RawEventSink } from './build/raw-event-builder.ts';
import { Capture } from './capture/capture.ts';
import type { LoaderOptions } from './capture/loader/loader-process.ts';
import { TlsLibraries } from './capture/tls-libraries.ts';
import type { CaptureCounters } from './capture-counters.ts';
import { resolveCollectorConfig } from './config.ts';

/**
 * The loader's STATS interval. STATS records close the loss gate's windows (loss-gate.ts), so this is
 * also how long records wait before they are framed; 250 ms keeps that delay invisible next to Kafka
 * batching and costs the loader four counter reads a second.
 */
export const STATS_INTERVAL_MS = 250;

/** How often, and after how much quiet, connections of exited processes are forgotten (reapExited). */
const REAP_INTERVAL_MS = 10_000;
const REAP_IDLE_MS = 30_000;

export interface CapturePipelineOptions {
  config: MeshpipeConfig;
  logger: Logger;
  counters: CaptureCounters;
  emit: RawEventSink;
  /** Overrides of the loader options derived from the configuration (e.g. observe's port filter). */
  loader?: Partial<Omit<LoaderOptions, 'onStderr'>>;
  self?: SelfFilter;
}

export interface CapturePipeline {
  readonly capture: Capture;
  readonly builder: RawEventBuilder;
  readonly processes: ProcessTable;
  readonly netns: NetnsNames;
  /** The TLS libraries the loader probes (empty with collector.tls.enabled off). */
  readonly tls: TlsLibraries;
  /** Names from the Kubernetes API server; null when `collector.kubernetes` is off (not in a cluster). */
  readonly kubernetes: KubernetesDecorator | null;
  /** Stops the loader (its last records are processed) and releases watchers. */
  stop(): Promise<void>;
}

export function createCapturePipeline(options: CapturePipelineOptions): CapturePipeline {
  const { config, logger, counters } = options;
  const c = resolveCollectorConfig(config);
  const self = options.self ?? selfFilterFromEnvironment();
  const processes = new ProcessTable();
  const netns = new NetnsNames();
  const source = kubernetesSource(c.kubernetes);
  const kubernetes =
    source === null
      ? null
      : new KubernetesDecorator({
          kubeConfig: loadKubeConfig(source),
          nodeName: config.node.name,
          peerPods: c.kubernetes.peerPods,
          logger,
        });
  if (kubernetes !== null) {
    kubernetes.start();
    logger.info(
      { source: source?.kind, node: config.node.name },
      'kubernetes decorator on: watching pods, services, replicasets, jobs',
    );
  }
  const identity = new IdentityResolver({
    kubernetes,
    processes,
    netns,
    cgroups: new CgroupDirectory(),
    rules: new WorkloadRules(c.workloads),
    namespace: c.namespace,
    self,
  });
  const tls = new TlsLibraries(logger);
  const redaction = compileRedactionPolicy({
    headers: c.redact.headers,
    queryParams: c.redact.queryParams,
    pathSegments: c.redact.pathSegments,
  });
  const builder = new RawEventBuilder({
    node: config.node.name,
    identity,
    redaction,
    shipBodies: c.shipBodies,
    h2: {
      dataPrefixBytes: c.h2DataBytes,
      policy: redaction,
      redactBinaryMetadata: c.redact.binaryMetadata,
    },
    maxConnections: c.maxConnections,
    counters,
    emit: options.emit,
    tlsLibraries: tls,
  });
  // The kernel drops our own records and the loader's; under `meshpipe up` the supervisor's too (its
  // children are recognised in user space: they restart with new pids).
  const excludePids = [...self.pids].filter((pid) => pid !== process.pid);
  const capture = new Capture({
    loader: {
      capBytes: c.capBytes,
      // The kernel and the frame readers must agree on how much of a DATA payload is copied.
      h2DataBytes: c.h2DataBytes,
      ringMb: c.ringMb,
      statsMs: STATS_INTERVAL_MS,
      // The loader and this process run under SCHED_IDLE, so the applications on a shared core
      // preempt them at once: measured in bench/overhead, this took the traced requests' latency
      // from 2.0x to ~1.2x (mean) and 6x to ~3x (p99) of no capture (bpf/loader/schedule.c).
      ...(c.schedIdle ? { schedIdle: true, schedIdlePids: [process.pid] } : {}),
      ...(c.ports.length > 0 ? { ports: c.ports } : {}),
      ...(c.tls.enabled ? { tls: true, tlsBinaries: c.tls.binaries, tlsPods: c.tls.pods } : {}),
      ...(c.conntrack.enabled
        ? { conntrack: true, ...(c.conntrack.netns === null ? {} : { conntrackNetns: c.conntrack.netns }) }
        : {}),
      ...(excludePids.length > 0 ? { excludePids } : {}),
      ...options.loader,
    },
    builder,
    counters,
    logger,
  });
  const procRoot = '/proc';
  const reaper = setInterval(
    () => builder.reapExited(REAP_IDLE_MS, (pid) => existsSync(`${procRoot}/${pid}`)),
    REAP_INTERVAL_MS,
  );
  reaper.unref();
  return {
    capture,
    builder,
    processes,
    netns,
    tls,
    kubernetes,
    async stop() {
      clearInterval(reaper);
      await capture.stop();
      netns.close();
      kubernetes?.stop();
    },
  };
}
