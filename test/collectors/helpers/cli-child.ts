/**
 * A long-running `meshpipe` command as a child process (collect, observe, record): started, awaited
 * until its capture runs (the "capture running" log line), then stopped like a user would, with
 * SIGINT, or left to end by its own --duration/--limit. Output is kept for assertions.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { CLI } from '../../helpers/cli.ts';

export interface CliChild {
  readonly child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves once the capture runs; rejects if the command exits first. */
  readonly ready: Promise<void>;
  /** Resolves with the exit code when the command ends. */
  readonly exited: Promise<number | null>;
  /** SIGINT, then waits for the exit (SIGKILL after `timeoutMs`). */
  stop(timeoutMs?: number): Promise<number | null>;
}

export function startCli(args: string[], env: Record<string, string>, readyTimeoutMs = 30_000): CliChild {
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { ...process.env, MESHPIPE_LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => {
    stdout += d;
  });
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`meshpipe ${args.join(' ')} not ready: ${stderr}`)),
      readyTimeoutMs,
    );
    child.stderr!.on('data', (d) => {
      stderr += d;
      if (stderr.includes('"capture running"')) {
        clearTimeout(timer);
        resolve();
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`meshpipe ${args.join(' ')} exited (${code}) before capturing: ${stderr}`));
    });
  });
  ready.catch(() => {});
  return {
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    ready,
    exited,
    async stop(timeoutMs = 30_000) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGINT');
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

/** `meshpipe <args>` run under a wrapper command (e.g. setpriv, to drop privileges); waits for the end. */
export function runCliAs(
  wrapper: string[],
  args: string[],
  env: Record<string, string>,
  timeoutMs = 60_000,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(wrapper[0]!, [...wrapper.slice(1), process.execPath, CLI, ...args], {
      env: { ...process.env, MESHPIPE_LOG_LEVEL: 'warn', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => {
      stdout += d;
    });
    child.stderr!.on('data', (d) => {
      stderr += d;
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`meshpipe ${args.join(' ')} did not finish: ${stderr}`));
    }, timeoutMs);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
