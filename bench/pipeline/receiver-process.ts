/**
 * The OTLP receiver of the benchmarks (receiver.ts) in a process of its own, and how to talk to it: its
 * decoding is the backend's cost, not the sink's, and must not share the orchestrator's event loop.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { onCleanup } from '../overhead/topology.ts';

const RECEIVER = fileURLToPath(new URL('./receiver.ts', import.meta.url));

export interface Receiver {
  child: ChildProcess;
  endpoint: string;
  stats(): Promise<{
    spans: number;
    firstArrivalMs: number | null;
    lastArrivalMs: number | null;
    latenciesMs: Record<string, number[]>;
  }>;
  send(m: object): void;
  stop(): void;
}

export async function startReceiver(): Promise<Receiver> {
  const child = fork(RECEIVER, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  onCleanup(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (m: { ready?: number }) =>
      m.ready === undefined ? reject(new Error('receiver')) : resolve(m.ready),
    );
    child.once('exit', (code) => reject(new Error(`receiver exited with ${code}`)));
  });
  return {
    child,
    endpoint: `http://127.0.0.1:${port}`,
    stats: () =>
      new Promise((resolve) => {
        child.once('message', (m: { stats: Awaited<ReturnType<Receiver['stats']>> }) => resolve(m.stats));
        child.send({ cmd: 'stats' });
      }),
    send: (m) => child.send(m),
    stop: () => child.send({ cmd: 'stop' }),
  };
}
