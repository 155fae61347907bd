/**
 * A demo process inside a pod: `ip netns exec <ns> node <script> ... --watch-parent`.
 *
 * The contract with the script is small: JSON lines on stdout, the first of type "ready"; logs on stderr
 * (the last lines are kept for error messages); and it exits when its stdin closes (--watch-parent), so
 * it cannot outlive this process even when this process is SIGKILLed. `ip netns exec` execs the command
 * without forking, so the pid we see is the script's own.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { ERRORS, MeshpipeError } from '../lib/errors.ts';
import type { Logger } from '../lib/logger.ts';
import { podExecArgs } from './netns.ts';

export interface PodProcessOptions {
  /** For messages and logs, e.g. `gateway`. */
  name: string;
  ns: string;
  script: string;
  args: readonly string[];
  readyTimeoutMs: number;
  logger: Logger;
  /** Every JSON line after the ready line. */
  onMessage?(message: Record<string, unknown>): void;
}

export interface PodProcess {
  name: string;
  pid: number;
  /** The ready line. */
  ready: Record<string, unknown>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  hasExited(): boolean;
  stderrTail(): string;
  /** SIGTERM, then SIGKILL after graceMs. */
  stop(graceMs?: number): Promise<void>;
}

const TAIL_LINES = 20;

function running(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

export async function startInPod(options: PodProcessOptions): Promise<PodProcess> {
  const { name, logger } = options;
  const child = spawn(
    'ip',
    podExecArgs(options.ns, [process.execPath, options.script, ...options.args, '--watch-parent']),
    {
      stdio: ['pipe', 'pipe', 'pipe'],
    },
  );
  const tail: string[] = [];
  createInterface({ input: child.stderr! }).on('line', (line) => {
    tail.push(line);
    if (tail.length > TAIL_LINES) tail.shift();
    logger.debug({ process: name, line }, 'demo process stderr');
  });
  const stderrTail = () => (tail.length === 0 ? '' : `\n${tail.join('\n')}`);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    // 'close', not 'exit': it comes after stdout was read to the end, so the last report is never lost.
    child.once('close', (code, signal) => resolve({ code, signal }));
    // Spawning `ip` itself failed (not installed): reported like an exit, the caller sees the message.
    child.once('error', (err) => {
      tail.push(err.message);
      resolve({ code: null, signal: null });
    });
  });

  let onReady: (ready: Record<string, unknown>) => void = () => {};
  const readyPromise = new Promise<Record<string, unknown>>((resolve) => {
    onReady = resolve;
  });
  let isReady = false;
  createInterface({ input: child.stdout! }).on('line', (line) => {
    let message: Record<string, unknown>;
    try {
      message = JSON.parse(line) as Record<string, unknown>;
    } catch {
      logger.debug({ process: name, line }, 'demo process printed a non-JSON line');
      return;
    }
    if (!isReady && message.type === 'ready') {
      isReady = true;
      onReady(message);
    } else options.onMessage?.(message);
  });

  const stop = async (graceMs = 3000) => {
    if (!running(child)) return;
    child.kill('SIGTERM');
    await Promise.race([exited, sleep(graceMs, undefined, { ref: false })]);
    if (running(child)) child.kill('SIGKILL');
    await exited;
  };

  const outcome = await Promise.race([
    readyPromise,
    exited.then(({ code, signal }) => `exited (${signal ?? `code ${code}`}) before it was ready`),
    sleep(options.readyTimeoutMs, `was not ready within ${options.readyTimeoutMs} ms`, { ref: false }),
  ]);
  if (typeof outcome === 'string') {
    await stop(0);
    throw new MeshpipeError(ERRORS.DEMO_PROCESS_FAILED, [name, `${outcome}${stderrTail()}`]);
  }
  return {
    name,
    pid: child.pid!,
    ready: outcome,
    exited,
    hasExited: () => !running(child),
    stderrTail,
    stop,
  };
}
