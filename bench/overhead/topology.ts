/**
 * The bench's little cluster: two pods (network namespaces) on the demo's veth/bridge network
 * (demo/netns.ts), and the servers of each scenario.
 *
 *   host (the "node"): bridge 10.240.N.1 ── [S3: haproxy :15080, one per-node proxy]
 *     ├─ veth ══ pod client 10.240.N.2:  loadgen ─► [S2: haproxy 127.0.0.1:15001, the client's sidecar]
 *     └─ veth ══ pod server 10.240.N.3:  [S2: nginx proxy :15006, the server's sidecar] ─► nginx app :8080
 *
 * The application is nginx (one worker) answering every request with a 1 KiB body over keep-alive
 * connections that are never closed (keepalive_requests 10^9). The sidecars log every request, as mesh
 * proxies do: haproxy one line per request to its stdout (a file), the nginx proxy to a buffered access
 * log (flushed every second, like Envoy's file access log). Both keep their upstream connections alive.
 *
 * Prefix and subnet are claimed like the demo's (demo/claims.ts), so a crashed run's leftovers are found
 * and removed by the next one, and a concurrent demo never gets the same /24. Teardown is synchronous so
 * that it also runs from the process's 'exit' handler (Ctrl-C included).
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  claimPrefix,
  claimSubnet,
  type DemoRecord,
  dropStale,
  releasePrefix,
  releaseSubnet,
  staleRecords,
  updatePrefix,
} from '../../demo/claims.ts';
import {
  createPodNetwork,
  type PodAddress,
  podExecArgs,
  removePodNetwork,
  subnetUseOnHost,
} from '../../demo/netns.ts';

export const PREFIX = 'mpov-';
const PODS = ['client', 'server'] as const;
/** Unusual on purpose: the collector captures this port on the whole node, and nothing else may use it. */
export const APP_PORT = 18480;
/** The same application over HTTPS (the TLS scenarios). */
export const APP_TLS_PORT = 18443;
export const CLIENT_SIDECAR_PORT = 15001;
export const SERVER_SIDECAR_PORT = 15006;
export const NODE_PROXY_PORT = 15080;
/** The response body: 1 KiB. */
export const BODY_BYTES = 1024;

// --- cleanup: everything started is stopped on exit, whatever the exit ------------------------------------
const cleanups: Array<() => void> = [];

/** Registers a synchronous cleanup, run in reverse order on exit (normal, error, Ctrl-C, SIGTERM). */
export function onCleanup(fn: () => void): void {
  cleanups.push(fn);
}

export function cleanupNow(): void {
  while (cleanups.length > 0) {
    try {
      cleanups.pop()!();
    } catch {
      // Best effort: the rest still runs.
    }
  }
}

let signalsInstalled = false;
/** Ctrl-C / SIGTERM run `beforeExit` (bounded, async), then the synchronous cleanups. */
export function installSignalHandlers(beforeExit: () => Promise<void> = async () => {}): void {
  if (signalsInstalled) return;
  signalsInstalled = true;
  process.once('exit', cleanupNow);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      console.error(`\n${signal}: stopping and cleaning up`);
      void Promise.race([beforeExit(), sleep(5000)]).finally(() => process.exit(130));
    });
  }
}

// --- pods -------------------------------------------------------------------------------------------------
export interface Pods {
  client: PodAddress;
  server: PodAddress;
  /** The node's own address on the pod bridge. */
  hostAddress: string;
  subnet: string;
}

export function createPods(): Pods {
  for (const stale of staleRecords().filter((r) => r.prefix === PREFIX)) {
    removePodNetwork({ prefix: stale.prefix, pods: stale.podNames });
    dropStale(stale);
  }
  const record: DemoRecord = {
    prefix: PREFIX,
    pid: process.pid,
    startedAt: new Date().toISOString(),
    subnet: null,
    podNames: [...PODS],
    details: { owner: 'bench/overhead' },
  };
  claimPrefix(record);
  onCleanup(() => {
    removePodNetwork({ prefix: PREFIX, pods: PODS });
    if (record.subnet !== null) releaseSubnet(record.subnet);
    releasePrefix(PREFIX);
  });
  removePodNetwork({ prefix: PREFIX, pods: PODS });
  record.subnet = claimSubnet(PREFIX, undefined, subnetUseOnHost);
  updatePrefix(record);
  const network = createPodNetwork({ prefix: PREFIX, subnet: record.subnet, pods: PODS });
  return {
    client: network.pods.find((p) => p.name === 'client')!,
    server: network.pods.find((p) => p.name === 'server')!,
    hostAddress: network.hostAddress,
    subnet: record.subnet,
  };
}

// --- servers ----------------------------------------------------------------------------------------------
export interface ServerProcess {
  readonly name: string;
  /** The process and its children (nginx workers), for CPU and memory. */
  pids(): number[];
  stop(): Promise<void>;
}

function childrenOf(parent: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'latin1');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === parent) out.push(Number(entry));
    } catch {
      // gone
    }
  }
  return out;
}

async function listening(ns: string | null, port: number, child: ChildProcess, log: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null) break;
    const argv = ['ss', '-Hltn', `sport = :${port}`];
    const out = execFileSync(
      ns === null ? argv[0]! : 'ip',
      ns === null ? argv.slice(1) : podExecArgs(ns, argv),
      {
        encoding: 'utf8',
      },
    );
    if (out.includes(`:${port}`)) return;
    await sleep(50);
  }
  let tail = '';
  try {
    tail = readFileSync(log, 'utf8').slice(-2000);
  } catch {
    // no log
  }
  throw new Error(`server did not listen on :${port} (exit ${child.exitCode}): ${tail}`);
}

async function startServer(
  name: string,
  ns: string | null,
  argv: (dir: string) => string[],
  config: (dir: string) => string,
  configFile: string,
  port: number,
): Promise<ServerProcess> {
  const dir = mkdtempSync(join(tmpdir(), `meshpipe-bench-${name}-`));
  writeFileSync(join(dir, configFile), config(dir));
  const out = openSync(join(dir, 'stdout.log'), 'a');
  const command = argv(dir);
  const child = spawn(
    ns === null ? command[0]! : 'ip',
    ns === null ? command.slice(1) : podExecArgs(ns, command),
    {
      stdio: ['ignore', out, out],
    },
  );
  const kill = () => {
    for (const pid of [...childrenOf(child.pid!), child.pid!]) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    rmSync(dir, { recursive: true, force: true });
  };
  onCleanup(kill);
  await listening(ns, port, child, join(dir, 'stdout.log'));
  return {
    name,
    pids: () => [child.pid!, ...childrenOf(child.pid!)],
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await Promise.race([new Promise((r) => child.once('exit', r)), sleep(3000)]);
      }
      kill();
    },
  };
}

const NGINX_COMMON = (dir: string) => `daemon off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }`;
const NGINX_TEMP = (dir: string) =>
  `client_body_temp_path ${dir}/b; proxy_temp_path ${dir}/p; fastcgi_temp_path ${dir}/f; uwsgi_temp_path ${dir}/u; scgi_temp_path ${dir}/s;`;

/**
 * The application: nginx answering 200 with a 1 KiB body, keep-alive connections never closed. With
 * `tls`, the same on APP_TLS_PORT over HTTPS too (a self-signed P-256 certificate made by the openssl CLI).
 */
export function startApp(ns: string, options: { tls?: boolean } = {}): Promise<ServerProcess> {
  const body = 'x'.repeat(BODY_BYTES - 1);
  const tlsServer = (dir: string) => {
    if (options.tls !== true) return '';
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=meshpipe-bench',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
      ],
      { stdio: 'ignore' },
    );
    return `server { listen ${APP_TLS_PORT} ssl reuseport; ssl_certificate ${dir}/cert.pem; ssl_certificate_key ${dir}/key.pem; default_type text/plain; location / { return 200 "${body}\\n"; } }`;
  };
  return startServer(
    'app',
    ns,
    (dir) => ['nginx', '-p', dir, '-c', join(dir, 'nginx.conf')],
    (dir) => `${NGINX_COMMON(dir)}
http {
  access_log off;
  ${NGINX_TEMP(dir)}
  keepalive_requests 1000000000;
  keepalive_timeout 600s;
  server { listen ${APP_PORT} reuseport; default_type text/plain; location / { return 200 "${body}\\n"; } }
  ${tlsServer(dir)}
}
`,
    'nginx.conf',
    APP_PORT,
  );
}

/** The server's sidecar: an nginx reverse proxy in the server pod, access-logged, keep-alive upstream. */
export function startServerSidecar(ns: string): Promise<ServerProcess> {
  return startServer(
    'server-sidecar',
    ns,
    (dir) => ['nginx', '-p', dir, '-c', join(dir, 'nginx.conf')],
    (dir) => `${NGINX_COMMON(dir)}
http {
  ${NGINX_TEMP(dir)}
  log_format mesh '$remote_addr "$request" $status $body_bytes_sent $request_time $upstream_response_time';
  access_log ${dir}/access.log mesh buffer=64k flush=1s;
  keepalive_requests 1000000000;
  keepalive_timeout 600s;
  upstream app { server 127.0.0.1:${APP_PORT}; keepalive 64; keepalive_requests 1000000000; }
  server {
    listen ${SERVER_SIDECAR_PORT};
    location / { proxy_pass http://app; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
}
`,
    'nginx.conf',
    SERVER_SIDECAR_PORT,
  );
}

function haproxyConfig(bind: string, upstream: string): string {
  return `global
  nbthread 1
  maxconn 4096
  log stdout format raw local0
defaults
  mode http
  log global
  option httplog
  timeout connect 5s
  timeout client 600s
  timeout server 600s
  timeout http-keep-alive 600s
  http-reuse always
frontend in
  bind ${bind}
  default_backend upstream
backend upstream
  server s1 ${upstream}
`;
}

/** The client's sidecar: haproxy on the client pod's loopback, forwarding to the server's sidecar. */
export function startClientSidecar(ns: string, serverAddress: string): Promise<ServerProcess> {
  return startServer(
    'client-sidecar',
    ns,
    (dir) => ['haproxy', '-db', '-f', join(dir, 'haproxy.cfg')],
    () => haproxyConfig(`127.0.0.1:${CLIENT_SIDECAR_PORT}`, `${serverAddress}:${SERVER_SIDECAR_PORT}`),
    'haproxy.cfg',
    CLIENT_SIDECAR_PORT,
  );
}

/** S3: one proxy per node (in the host's namespace), access-logged, straight to the application. */
export function startNodeProxy(hostAddress: string, serverAddress: string): Promise<ServerProcess> {
  return startServer(
    'node-proxy',
    null,
    (dir) => ['haproxy', '-db', '-f', join(dir, 'haproxy.cfg')],
    () => haproxyConfig(`${hostAddress}:${NODE_PROXY_PORT}`, `${serverAddress}:${APP_PORT}`),
    'haproxy.cfg',
    NODE_PROXY_PORT,
  );
}

/** Pins a process (all its threads) to `cpus` (e.g. "1"). */
export function pin(pid: number, cpus: string): void {
  execFileSync('taskset', ['-a', '-p', '-c', cpus, String(pid)], { stdio: 'ignore' });
}

/** Versions of the servers, for the results' machine facts (both print them on stderr or stdout). */
export function serverVersions(): Record<string, string> {
  const text = (cmd: string, args: string[]) => {
    const r = spawnSync(cmd, args, { encoding: 'utf8' });
    return `${r.stdout ?? ''}${r.stderr ?? ''}`;
  };
  return {
    nginx: /nginx\/(\S+)/.exec(text('nginx', ['-v']))?.[1] ?? 'unknown',
    haproxy: /version (\S+)/.exec(text('haproxy', ['-v']))?.[1] ?? 'unknown',
  };
}
