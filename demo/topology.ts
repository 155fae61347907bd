/**
 * The demo as a library: three services and a load generator, each a real process in its own network
 * namespace, on a bridge of their own.
 *
 *   const demo = await startDemo({ rate: 50, faults: { orders: { latencyMs: 200 } } });
 *   await fetch(`${demo.gatewayUrl}/api/orders/7`);
 *   await demo.setFault('inventory', 'errors=0.5');
 *   console.log(await demo.stats());
 *   await demo.stop();
 *
 * Nothing outlives the demo: stop() removes processes, namespaces, interfaces and claims; so does process
 * exit, SIGINT, SIGTERM and SIGHUP; after a SIGKILL the services exit with their parent (--watch-parent)
 * and the next startDemo() removes the namespaces that were left (demo/claims.ts). See docs/demo.md.
 */
import { randomBytes } from 'node:crypto';
import { ERRORS, errorMessage, MeshpipeError } from '../lib/errors.ts';
import { createLogger, type Logger } from '../lib/logger.ts';
import { moduleFile } from '../lib/module-file.ts';
import { type AdminClient, adminClient } from './admin-client.ts';
import {
  claimPrefix,
  claimSubnet,
  type DemoRecord,
  dropStale,
  releasePrefix,
  releaseSubnet,
  staleRecords,
  updatePrefix,
} from './claims.ts';
import { type Fault, faultSettings, mergeFault, NO_FAULT, parseFaultSetting } from './fault.ts';
import {
  adminSocketPath,
  GRPC_CLIENT,
  GRPC_PORT,
  GRPC_SERVER,
  isServiceName,
  PODS,
  type PodName,
  removeAdminSockets,
  SERVICE_PORT,
  SERVICES,
  type ServiceName,
  UPSTREAM,
} from './layout.ts';
import type { LoadStats } from './load-generator.ts';
import { assertRoot, createPodNetwork, podNetworkNames, removePodNetwork, subnetUseOnHost } from './netns.ts';
import { type PodProcess, startInPod } from './pod-process.ts';
import type { RequestRecord, ServiceStats } from './services/admin-api.ts';

export interface DemoOptions {
  /** Requests per second of the load generator in the client pod; 0 starts no load (default 20). */
  rate?: number;
  /** Stop the load after this many requests (default: unbounded). */
  loadCount?: number;
  /** Stop the load after this long, in ms (default: unbounded). */
  loadDurationMs?: number;
  /** Keep-alive connections of the load generator (default 4). */
  loadConnections?: number;
  /** Seed of the load generator's route mix (default 1). */
  loadSeed?: number;
  /** Faults active from the first request, per service. */
  faults?: Partial<Record<ServiceName, Partial<Fault>>>;
  /** W3C traceparent propagation in the services and the load generator (default true). */
  propagate?: boolean;
  /** Prefix of namespace and interface names (default `mp-`). */
  prefix?: string;
  /** Append a random suffix to the prefix (`mp-3fa2-`), so parallel runs never collide (default false). */
  unique?: boolean;
  /** A /24 to use (default: the first free 10.240.N.0/24, normally 10.240.0.0/24). */
  subnet?: string;
  /** Keep-alive connections each service keeps to its upstream (default 4). */
  upstreamConnections?: number;
  /** Hash rounds of CPU work per inventory request (default 1000, about a millisecond). */
  inventoryWork?: number;
  /** Stop the demo on SIGINT/SIGTERM/SIGHUP, then re-raise the signal if nobody else handles it (default true). */
  handleSignals?: boolean;
  /** How long a process may take to report ready (default 20 s: two cores start four Node processes). */
  readyTimeoutMs?: number;
  logger?: Logger;
}

export interface DemoPod {
  name: PodName;
  /** Network namespace: `ip netns exec <ns> ...` runs a command inside the pod. */
  ns: string;
  address: string;
  /** The service port; null for the client pod. */
  port: number | null;
  /** The gRPC port (inventory.v1.Inventory); null for pods that serve no gRPC. */
  grpcPort?: number | null;
  /** The service's admin API (a Unix socket, so the demo's own polling is not captured); null for the client. */
  adminSocket: string | null;
  /** The pod's process (service or load generator); null for a client pod without load. */
  pid: number | null;
}

export interface DemoStats {
  time: string;
  /** The latest report of the load generator; null without load or before its first report. */
  load: LoadStats | null;
  services: Record<ServiceName, ServiceStats>;
}

export interface Demo {
  prefix: string;
  subnet: string;
  /** The host's address on the demo bridge: pods reach the host there. */
  hostAddress: string;
  propagate: boolean;
  pods: DemoPod[];
  /** e.g. http://10.240.0.2:8080, reachable from the host and from every pod. */
  gatewayUrl: string;
  /** Changes a service's fault at runtime: `{ latencyMs: 300 }` or `'latency=300~50'`, `'errors=0.2'`. */
  setFault(service: ServiceName, change: Partial<Fault> | string): Promise<Fault>;
  stats(): Promise<DemoStats>;
  /** The most recent requests a service answered (at most 200), oldest first. */
  requests(service: ServiceName, limit?: number): Promise<RequestRecord[]>;
  /** Resolves with the final load report when a bounded load ends (or the demo stops); null without load. */
  loadDone: Promise<LoadStats | null>;
  /** Stops everything and removes what was created. Idempotent. */
  stop(): Promise<void>;
}

/** What a running demo publishes in its claim record, for `meshpipe demo fault` in another terminal. */
export interface DemoDetails {
  propagate: boolean;
  pods: DemoPod[];
}

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

function badOption(option: string, why: string): MeshpipeError {
  return new MeshpipeError(ERRORS.DEMO_BAD_OPTION, [option, why]);
}

function checkCount(option: string, value: number | undefined, min: number): void {
  if (value !== undefined && !(Number.isFinite(value) && value >= min))
    throw badOption(option, `must be a number >= ${min}, got ${value}`);
}

/** Validates the options that can be checked before anything is created; returns the start-up faults. */
function checkOptions(options: DemoOptions): Map<ServiceName, Partial<Fault>> {
  checkCount('rate', options.rate, 0);
  checkCount('loadCount', options.loadCount, 1);
  checkCount('loadDurationMs', options.loadDurationMs, 1);
  checkCount('loadConnections', options.loadConnections, 1);
  checkCount('upstreamConnections', options.upstreamConnections, 1);
  checkCount('inventoryWork', options.inventoryWork, 0);
  const faults = new Map<ServiceName, Partial<Fault>>();
  for (const [service, change] of Object.entries(options.faults ?? {})) {
    if (!isServiceName(service)) throw badOption('faults', `unknown service ${service}`);
    mergeFault(NO_FAULT, change);
    faults.set(service, change);
  }
  return faults;
}

/** Command-line flags of one service process (demo/services/service-kit.ts). */
function serviceArgs(
  name: ServiceName,
  prefix: string,
  options: DemoOptions,
  fault: Partial<Fault> | undefined,
  url: (s: ServiceName) => string,
  address: (s: ServiceName) => string,
): string[] {
  const args = ['--port', String(SERVICE_PORT), '--admin-socket', adminSocketPath(prefix, name)];
  args.push('--propagation', options.propagate === false ? 'none' : 'w3c');
  args.push('--pool', String(options.upstreamConnections ?? 4));
  const upstream = UPSTREAM[name];
  if (upstream !== undefined) args.push('--upstream', url(upstream));
  if (name === GRPC_SERVER) args.push('--grpc-port', String(GRPC_PORT));
  if (name === GRPC_CLIENT) args.push('--grpc-upstream', `${address(GRPC_SERVER)}:${GRPC_PORT}`);
  if (name === 'inventory' && options.inventoryWork !== undefined)
    args.push('--work', String(options.inventoryWork));
  for (const setting of fault === undefined ? [] : faultSettings(fault)) args.push('--fault', setting);
  return args;
}

/** Command-line flags of the load generator (demo/load.ts). */
function loadArgs(options: DemoOptions, target: string): string[] {
  const args = ['--target', target, '--rate', String(options.rate ?? 20)];
  args.push('--connections', String(options.loadConnections ?? 4), '--seed', String(options.loadSeed ?? 1));
  args.push('--propagation', options.propagate === false ? 'none' : 'w3c');
  if (options.loadCount !== undefined) args.push('--count', String(options.loadCount));
  if (options.loadDurationMs !== undefined) args.push('--duration', String(options.loadDurationMs / 1000));
  return args;
}

/** Removes what demos that died without stopping left behind, whatever their prefix. */
function sweepStaleDemos(logger: Logger): void {
  for (const record of staleRecords()) {
    logger.warn(
      { prefix: record.prefix, ownerPid: record.pid },
      'removing leftovers of a demo that did not stop',
    );
    try {
      removePodNetwork({ prefix: record.prefix, pods: record.podNames });
      removeAdminSockets(record.prefix);
    } catch (err) {
      logger.warn({ prefix: record.prefix, err: errorMessage(err) }, 'could not remove demo leftovers');
    }
    dropStale(record);
  }
}

export async function startDemo(options: DemoOptions = {}): Promise<Demo> {
  const faults = checkOptions(options);
  const rate = options.rate ?? 20;
  const propagate = options.propagate ?? true;
  const logger = options.logger ?? createLogger({ component: 'demo' });
  const readyTimeoutMs = options.readyTimeoutMs ?? 20_000;
  const prefix = `${options.prefix ?? 'mp-'}${options.unique === true ? `${randomBytes(2).toString('hex')}-` : ''}`;
  const podNames = [...PODS];
  podNetworkNames(prefix, podNames);
  assertRoot();

  sweepStaleDemos(logger);
  const startedAt = new Date().toISOString();
  const record: DemoRecord = { prefix, pid: process.pid, startedAt, subnet: null, podNames };
  claimPrefix(record);
  const processes: PodProcess[] = [];
  let stopping = false;
  // Synchronous, so that it can run in an 'exit' handler too. Kills first: a namespace lives on while a
  // process is in it.
  const teardown = () => {
    for (const p of processes) {
      try {
        process.kill(p.pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    removePodNetwork({ prefix, pods: podNames });
    removeAdminSockets(prefix);
    if (record.subnet !== null) releaseSubnet(record.subnet);
    releasePrefix(prefix);
  };
  const watch = (p: PodProcess) => {
    processes.push(p);
    void p.exited.then(({ code, signal }) => {
      if (!stopping && !(p.name === 'load' && code === 0))
        logger.error({ process: p.name, code, signal, stderr: p.stderrTail() }, 'demo process exited');
    });
    return p;
  };

  try {
    // Leftovers under our names without a record (a wiped run directory) would hold our subnet's routes.
    removePodNetwork({ prefix, pods: podNames });
    record.subnet = claimSubnet(prefix, options.subnet, subnetUseOnHost);
    updatePrefix(record);
    const network = createPodNetwork({ prefix, subnet: record.subnet, pods: podNames });
    const pod = (name: PodName) => network.pods.find((p) => p.name === name)!;
    const serviceUrl = (name: ServiceName) => `http://${pod(name).address}:${SERVICE_PORT}`;

    // The services do not need each other to start (upstreams are called per request), so they start
    // together; allSettled, so that when one fails, the others are tracked (and killed) all the same.
    const started = await Promise.allSettled(
      SERVICES.map(async (name) => {
        const script = moduleFile(`./services/${name}.ts`, import.meta.url);
        const args = serviceArgs(name, prefix, options, faults.get(name), serviceUrl, (s) => pod(s).address);
        return watch(await startInPod({ name, ns: pod(name).ns, script, args, readyTimeoutMs, logger }));
      }),
    );
    const failed = started.find((r) => r.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
    const services = started.map((r) => (r as PromiseFulfilledResult<PodProcess>).value);

    let latestLoad: LoadStats | null = null;
    const load =
      rate === 0
        ? undefined
        : watch(
            await startInPod({
              name: 'load',
              ns: pod('client').ns,
              script: moduleFile('./load.ts', import.meta.url),
              args: loadArgs(options, serviceUrl('gateway')),
              readyTimeoutMs,
              logger,
              onMessage({ type, ...stats }) {
                if (type === 'stats' || type === 'done') latestLoad = stats as unknown as LoadStats;
              },
            }),
          );

    const pidOf = (name: PodName) =>
      name === 'client' ? (load?.pid ?? null) : services[SERVICES.indexOf(name)]!.pid;
    const pods: DemoPod[] = network.pods.map(({ name, ns, address }) => ({
      name: name as PodName,
      ns,
      address,
      port: name === 'client' ? null : SERVICE_PORT,
      grpcPort: name === GRPC_SERVER ? GRPC_PORT : null,
      adminSocket: name === 'client' ? null : adminSocketPath(prefix, name as ServiceName),
      pid: pidOf(name as PodName),
    }));
    record.details = { propagate, pods } satisfies DemoDetails;
    updatePrefix(record);

    // An admin call that fails because the service died says so, with the service's last words.
    const viaAdmin = async <T>(
      service: ServiceName,
      call: (admin: AdminClient) => Promise<T>,
    ): Promise<T> => {
      try {
        return await call(adminClient(adminSocketPath(prefix, service)));
      } catch (err) {
        const p = services[SERVICES.indexOf(service)]!;
        const why = p.hasExited() ? `it exited${p.stderrTail()}` : errorMessage(err);
        throw new MeshpipeError(ERRORS.DEMO_PROCESS_FAILED, [service, why]);
      }
    };

    const onExit = () => teardown();
    const onSignal = (signal: NodeJS.Signals) => {
      void demo.stop().finally(() => {
        // Nobody else handles it: the default action (exit by the signal) is what the user asked for.
        if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
      });
    };
    process.once('exit', onExit);
    if (options.handleSignals !== false) for (const s of SIGNALS) process.once(s, onSignal);

    let stopped: Promise<void> | undefined;
    const demo: Demo = {
      prefix,
      subnet: record.subnet,
      hostAddress: network.hostAddress,
      propagate,
      pods,
      gatewayUrl: serviceUrl('gateway'),
      async setFault(service, change) {
        const parsed = typeof change === 'string' ? parseFaultSetting(change) : change;
        mergeFault(NO_FAULT, parsed);
        return viaAdmin(service, (a) => a.setFault(parsed));
      },
      async stats() {
        const all = await Promise.all(SERVICES.map((s) => viaAdmin(s, (a) => a.stats())));
        const services = {} as Record<ServiceName, ServiceStats>;
        SERVICES.forEach((s, i) => {
          services[s] = all[i]!;
        });
        return { time: new Date().toISOString(), load: latestLoad, services };
      },
      requests: (service, limit) => viaAdmin(service, (a) => a.requests(limit)),
      loadDone: load === undefined ? Promise.resolve(null) : load.exited.then(() => latestLoad),
      stop() {
        stopped ??= (async () => {
          stopping = true;
          for (const s of SIGNALS) process.off(s, onSignal);
          // The load first, so the services do not count its last requests as failures.
          await load?.stop();
          await Promise.all(services.map((s) => s.stop()));
          teardown();
          process.off('exit', onExit);
          logger.info({ prefix }, 'demo stopped');
        })();
        return stopped;
      },
    };
    logger.info({ prefix, subnet: record.subnet, propagate, rate }, 'demo started');
    return demo;
  } catch (err) {
    stopping = true;
    teardown();
    throw err;
  }
}
