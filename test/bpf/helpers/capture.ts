/**
 * A running capture for real-kernel tests: a LoaderProcess whose records are collected in the
 * background (only those `keep` accepts, so other traffic on the machine costs no memory), plus
 * bounded waits for the records a test expects.
 */

import type { ConnRecord } from '../../../collectors/build/loss-gate.ts';
import {
  type LoaderExit,
  type LoaderOptions,
  LoaderProcess,
} from '../../../collectors/capture/loader/loader-process.ts';
import type {
  DataRecord,
  LoaderRecord,
  ReadyRecord,
} from '../../../collectors/capture/loader/record-decoder.ts';
import { waitFor } from '../../helpers/wait.ts';

export class Capture {
  readonly records: LoaderRecord[] = [];
  readonly loader: LoaderProcess;
  ready!: ReadyRecord;
  #consumed: Promise<void>;
  #failure: Error | null = null;

  private constructor(options: LoaderOptions, keep: (r: LoaderRecord) => boolean) {
    const loader = LoaderProcess.start(options);
    this.loader = loader;
    this.#consumed = (async () => {
      try {
        for await (const batch of loader.batches()) {
          for (const r of batch) if (keep(r)) this.records.push(r);
        }
      } catch (err) {
        this.#failure = err as Error;
      }
    })();
  }

  static async start(options: LoaderOptions, keep: (r: LoaderRecord) => boolean): Promise<Capture> {
    const capture = new Capture(options, keep);
    capture.ready = await capture.loader.ready;
    return capture;
  }

  /** Wait (bounded) until `pick` finds something in the records collected so far. */
  async waitFor<T>(
    what: string,
    pick: (records: LoaderRecord[]) => T | undefined | false,
    timeoutMs = 10_000,
  ) {
    return waitFor(
      what,
      () => {
        if (this.#failure) throw this.#failure;
        return pick(this.records);
      },
      { timeoutMs, intervalMs: 20 },
    );
  }

  async stop(): Promise<LoaderExit> {
    const exit = await this.loader.stop();
    await this.#consumed;
    return exit;
  }
}

export const isData = (r: LoaderRecord): r is DataRecord => r.kind === 'data';
/** A record about a connection (not STATS, READY, NAT or TLS_LIBRARY). */
export const isConn = (r: LoaderRecord): r is ConnRecord =>
  r.kind !== 'stats' && r.kind !== 'ready' && r.kind !== 'nat' && r.kind !== 'tls_library';
export const text = (r: DataRecord) => Buffer.from(r.captured).toString('latin1');
/** When the bytes crossed the boundary: the syscall entry for egress (the record's time is its exit). */
export const sentAt = (r: DataRecord) => r.timestampNs - BigInt(r.durationNs);
