/**
 * Keeps the eBPF loader running and its records flowing into the raw-event builder.
 *
 *   start() ── LoaderProcess.start ── ready? ──► consume batches ──► builder.push
 *                 │ no: LoaderError (the fix in .hint)       │ loader exited or died
 *                 ▼                                          ▼
 *          start() rejects: the command             restart with backoff (1 s doubling to 30 s,
 *          fails with the fix, nothing runs          reset after a minute up), counted
 *
 * A failure at start is the user's to fix (no BTF, no permission, no loader binary), so it is thrown
 * with the loader's own fix line. A loader that dies after a good start is restarted for as long as the
 * agent runs: kernel or memory hiccups should cost a gap, not the node's telemetry.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { errorMessage } from '../../lib/errors.ts';
import type { Logger } from '../../lib/logger.ts';
import type { RawEventBuilder } from '../build/raw-event-builder.ts';
import { type CaptureCounters, countDrop, DROP_REASON, DROP_STAGE } from '../capture-counters.ts';
import { LoaderError } from './loader/loader-error.ts';
import { type LoaderExit, type LoaderOptions, LoaderProcess } from './loader/loader-process.ts';
import type { ReadyRecord } from './loader/record-decoder.ts';

export interface CaptureOptions {
  loader: Omit<LoaderOptions, 'onStderr'>;
  builder: RawEventBuilder;
  counters: CaptureCounters;
  logger: Logger;
  /** Restart backoff, ms: first delay, cap, and how long a run must last to reset it. */
  backoff?: { initialMs?: number; maxMs?: number; resetAfterMs?: number };
}

export type CaptureState = 'stopped' | 'starting' | 'running' | 'restarting';

export class Capture {
  readonly #o: CaptureOptions;
  readonly #stop = new AbortController();
  #loader: LoaderProcess | null = null;
  #state: CaptureState = 'stopped';
  #loop: Promise<void> | null = null;
  #lastError: LoaderError | null = null;
  #ready: ReadyRecord | null = null;

  constructor(options: CaptureOptions) {
    this.#o = options;
  }

  get state(): CaptureState {
    return this.#state;
  }

  /** pid of the running loader (its CPU and memory are the collector's too). */
  get loaderPid(): number | undefined {
    return this.#state === 'running' ? this.#loader?.pid : undefined;
  }

  /** Why the loader last failed, until it runs again. */
  get lastError(): LoaderError | null {
    return this.#lastError;
  }

  /** The READY record of the running loader. */
  get ready(): ReadyRecord | null {
    return this.#ready;
  }

  /** Starts the loader; rejects with its LoaderError when it cannot start. */
  async start(): Promise<ReadyRecord> {
    this.#state = 'starting';
    const loader = this.#spawn();
    let ready: ReadyRecord;
    try {
      ready = await loader.ready;
    } catch (err) {
      this.#state = 'stopped';
      await loader.stop().catch(() => {});
      throw err;
    }
    this.#running(loader, ready);
    this.#loop = this.#run(loader);
    return ready;
  }

  /** Stops the loader and processes what it had already sent. */
  async stop(): Promise<void> {
    this.#stop.abort();
    const loader = this.#loader;
    if (loader !== null) await loader.stop();
    await this.#loop;
    this.#state = 'stopped';
  }

  #spawn(): LoaderProcess {
    const log = this.#o.logger.child({ loader: true });
    const loader = LoaderProcess.start({
      ...this.#o.loader,
      onStderr: (line) => {
        if (line.trim() !== '') log.info({ line }, 'meshpipe-loader');
      },
    });
    this.#loader = loader;
    return loader;
  }

  #running(loader: LoaderProcess, ready: ReadyRecord): void {
    this.#state = 'running';
    this.#lastError = null;
    this.#ready = ready;
    this.#o.logger.info(
      {
        loaderPid: loader.pid,
        captureCap: ready.captureCap,
        ringBytes: ready.ringBytes,
        pollMs: ready.pollMs,
      },
      'capture running',
    );
  }

  async #run(first: LoaderProcess): Promise<void> {
    const backoff = this.#o.backoff ?? {};
    const initial = backoff.initialMs ?? 1000;
    const max = backoff.maxMs ?? 30_000;
    const resetAfter = backoff.resetAfterMs ?? 60_000;
    const signal = this.#stop.signal;
    let delay = initial;
    let loader: LoaderProcess | null = first;
    for (;;) {
      if (loader !== null) {
        const startedAt = Date.now();
        const exit = await this.#consume(loader);
        if (signal.aborted) return;
        if (Date.now() - startedAt >= resetAfter) delay = initial;
        this.#lastError = exit.error ?? new LoaderError('LOADER_FAILED', ['it stopped by itself']);
        this.#o.logger.error(
          {
            code: this.#lastError.code,
            err: this.#lastError.message,
            hint: this.#lastError.hint,
            restartInMs: delay,
          },
          'the eBPF loader stopped; restarting it',
        );
      }
      this.#state = 'restarting';
      this.#o.counters.loaderRestarts++;
      await sleep(delay, undefined, { signal }).catch(() => {});
      if (signal.aborted) return;
      delay = Math.min(delay * 2, max);
      loader = this.#spawn();
      try {
        this.#running(loader, await loader.ready);
      } catch (err) {
        this.#lastError =
          err instanceof LoaderError ? err : new LoaderError('LOADER_FAILED', [errorMessage(err)]);
        this.#o.logger.error(
          {
            code: this.#lastError.code,
            err: this.#lastError.message,
            hint: this.#lastError.hint,
            restartInMs: delay,
          },
          'the eBPF loader did not start again; retrying',
        );
        await loader.stop().catch(() => {});
        loader = null;
      }
    }
  }

  /** Feeds every batch of one loader run to the builder; resolves with how the run ended. */
  async #consume(loader: LoaderProcess): Promise<LoaderExit> {
    const { builder, counters } = this.#o;
    const decoder = loader.decoder.counters;
    let malformed = 0;
    try {
      for await (const batch of loader.batches()) {
        builder.push(batch);
        if (decoder.malformed !== malformed) {
          countDrop(counters, DROP_STAGE.loader, DROP_REASON.malformedRecord, decoder.malformed - malformed);
          malformed = decoder.malformed;
        }
      }
    } catch {
      // The run ended with an error: `exited` below says which.
    }
    // A frame cut by the end of the stream is one record lost.
    if (decoder.truncatedBytes > 0) countDrop(counters, DROP_STAGE.loader, DROP_REASON.truncatedStream, 1);
    builder.endRun();
    return loader.exited;
  }
}
