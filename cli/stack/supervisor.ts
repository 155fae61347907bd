/**
 * Runs components as child processes and keeps them running: `meshpipe up` starts the collector, every
 * enabled processor and every sink this way. One process per component is the isolation boundary —
 * a component that throws, loops or leaks cannot stop the others — and matches production, where each
 * runs in its own pod.
 *
 *   supervisor ──fork──► meshpipe collect        ─┐
 *              ──fork──► meshpipe process <name> ─┼─ status over IPC (lib/component-status.ts)
 *              ──fork──► meshpipe sink <name>    ─┘
 *
 * A child that exits is restarted with exponential backoff (1 s doubling to 30 s, reset after a minute
 * of good behaviour). A child that stops reporting for `stallMs` is killed and restarted.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { type ComponentStatus, isStatusMessage } from '../../lib/component-status.ts';
import type { Logger } from '../../lib/logger.ts';

export interface ComponentSpec {
  name: string;
  /** Module to fork (usually cli/main.ts) and its arguments. */
  modulePath: string;
  args: string[];
  env?: Record<string, string>;
  /** Kill and restart when no status arrived for this long (0: never). */
  stallMs?: number;
}

export interface ComponentState {
  name: string;
  pid: number | undefined;
  restarts: number;
  status: ComponentStatus;
  lastStatusAt: number;
  exitCode: number | null;
}

export class Supervisor {
  readonly #logger: Logger;
  readonly #logDir: string;
  readonly #entries = new Map<
    string,
    {
      spec: ComponentSpec;
      child: ChildProcess | undefined;
      state: ComponentState;
      backoffMs: number;
      startedAt: number;
    }
  >();
  #stopping = false;
  #watchdog: NodeJS.Timeout | undefined;

  constructor(options: { logger: Logger; logDir: string }) {
    this.#logger = options.logger;
    this.#logDir = options.logDir;
    mkdirSync(this.#logDir, { recursive: true });
  }

  start(spec: ComponentSpec): void {
    const entry = {
      spec,
      child: undefined,
      backoffMs: 1000,
      startedAt: 0,
      state: {
        name: spec.name,
        pid: undefined,
        restarts: 0,
        status: { state: 'starting', summary: 'starting' } as ComponentStatus,
        lastStatusAt: Date.now(),
        exitCode: null,
      },
    };
    this.#entries.set(spec.name, entry);
    this.#spawn(spec.name);
    this.#watchdog ??= setInterval(() => this.#checkStalls(), 1000).unref();
  }

  /** Where a component's stdout/stderr go. */
  logFileOf(name: string): string {
    return join(this.#logDir, `${name.replaceAll('/', '_')}.log`);
  }

  #spawn(name: string): void {
    const entry = this.#entries.get(name);
    if (entry === undefined || this.#stopping) return;
    const fd = openSync(this.logFileOf(name), 'a');
    let child: ChildProcess;
    try {
      child = fork(entry.spec.modulePath, entry.spec.args, {
        env: { ...process.env, ...entry.spec.env, MESHPIPE_SUPERVISED: '1' },
        stdio: ['ignore', fd, fd, 'ipc'],
        // Own process group: a Ctrl-C on the terminal reaches the supervisor, which stops children in order.
        detached: true,
      });
    } finally {
      closeSync(fd);
    }
    entry.child = child;
    entry.startedAt = Date.now();
    entry.state.pid = child.pid;
    entry.state.lastStatusAt = Date.now();
    entry.state.status = { state: 'starting', summary: 'starting' };
    child.on('message', (message) => {
      if (isStatusMessage(message)) {
        entry.state.status = message.status;
        entry.state.lastStatusAt = Date.now();
      }
    });
    child.on('exit', (code, signal) => {
      entry.child = undefined;
      entry.state.pid = undefined;
      entry.state.exitCode = code;
      if (this.#stopping) return;
      const ranMs = Date.now() - entry.startedAt;
      if (ranMs > 60_000) entry.backoffMs = 1000;
      entry.state.restarts++;
      entry.state.status = {
        state: 'failed',
        summary: `exited (${signal ?? `code ${code}`}), restarting in ${Math.round(entry.backoffMs / 1000)}s — see ${this.logFileOf(name)}`,
      };
      this.#logger.warn(
        { component: name, code, signal, restarts: entry.state.restarts, log: this.logFileOf(name) },
        'component exited; restarting',
      );
      const delay = entry.backoffMs;
      entry.backoffMs = Math.min(entry.backoffMs * 2, 30_000);
      setTimeout(() => this.#spawn(name), delay).unref();
    });
  }

  #checkStalls(): void {
    const now = Date.now();
    for (const [name, entry] of this.#entries) {
      const stallMs = entry.spec.stallMs ?? 0;
      if (stallMs > 0 && entry.child !== undefined && now - entry.state.lastStatusAt > stallMs) {
        this.#logger.warn(
          { component: name, silentForMs: now - entry.state.lastStatusAt },
          'component stalled; killing it',
        );
        entry.child.kill('SIGKILL');
      }
    }
  }

  states(): ComponentState[] {
    return [...this.#entries.values()].map((e) => ({ ...e.state }));
  }

  /**
   * Signals every running child at once, synchronously, and restarts none: the last resort of a
   * supervisor that is exiting without stop() having finished (a second Ctrl-C). SIGTERM lets each
   * child stop cleanly on its own (the demo removes its namespaces).
   */
  signalAllNow(signal: NodeJS.Signals = 'SIGTERM'): void {
    this.#stopping = true;
    for (const entry of this.#entries.values()) entry.child?.kill(signal);
  }

  /** SIGTERM every child, wait up to graceMs, then SIGKILL what is left. */
  async stop(graceMs = 15_000): Promise<void> {
    this.#stopping = true;
    if (this.#watchdog !== undefined) clearInterval(this.#watchdog);
    const children = [...this.#entries.values()]
      .map((e) => e.child)
      .filter((c): c is ChildProcess => c !== undefined);
    for (const child of children) child.kill('SIGTERM');
    const deadline = Date.now() + graceMs;
    while (Date.now() < deadline && children.some((c) => c.exitCode === null && c.signalCode === null)) {
      await sleep(100);
    }
    for (const child of children) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  }
}
