/**
 * The local stack's state file (`.local/stack/state.json`), read side: which of its services run, and
 * on which port. The dev stack (cli/stack/) starts the services and writes the file; the broker resolver
 * (lib/endpoints.ts) reads it for every command, for `meshpipe doctor` and for the SDK's subscribe() —
 * so reading is here, at the bottom, and starting is not.
 */
import { readFileSync } from 'node:fs';
import { Socket } from 'node:net';
import { STACK_STATE_FILE } from './paths.ts';

/** The command-line marker of each service's process: pids are reused, a stale file must not adopt a stranger. */
export const SERVICE_MARKERS = {
  kafka: 'kafka.Kafka',
  redis: 'redis-server',
  schemaRegistry: 'apicurio-registry-',
} as const;

export type StackService = keyof typeof SERVICE_MARKERS;

/** What every service's entry in the file holds (the dev stack records more). */
export interface ServiceState {
  pid: number;
  port: number;
}

/** The file as written; `{}` when there is none. */
export function readStackStateFile(): Partial<Record<StackService, ServiceState>> {
  try {
    return JSON.parse(readFileSync(STACK_STATE_FILE, 'utf8')) as Partial<Record<StackService, ServiceState>>;
  } catch {
    return {};
  }
}

/**
 * True when `pid` is alive and its command line contains `marker` (pids are reused: a stale state
 * file must not make us adopt, or kill, an unrelated process).
 */
export function isOurProcess(pid: number, marker: string): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
    return cmdline.includes(marker);
  } catch {
    return false;
  }
}

/** True when a TCP connection to host:port succeeds within timeoutMs. */
export function canConnect(port: number, host = '127.0.0.1', timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolvePromise) => {
    const socket = new Socket();
    const done = (ok: boolean) => {
      socket.destroy();
      resolvePromise(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('error', () => done(false));
    socket.connect(port, host, () => done(true));
  });
}

/** The port of the local Kafka or Redis when its process is ours and it accepts connections. */
export async function runningLocalPort(service: 'kafka' | 'redis'): Promise<number | undefined> {
  const state = readStackStateFile()[service];
  if (state === undefined || !isOurProcess(state.pid, SERVICE_MARKERS[service])) return undefined;
  return (await canConnect(state.port)) ? state.port : undefined;
}
