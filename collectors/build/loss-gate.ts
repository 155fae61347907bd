/**
 * Tells the framer where records may be missing, so that no head is ever spliced across a loss.
 *
 * Why it matters: a head written in several syscalls is buffered by the framer until it is whole, then
 * redacted. If a record in the middle was lost, the bytes after the loss would be appended to a line of
 * the bytes before it — e.g. the tail of an `Authorization` value glued onto an innocent `X-Note:`
 * field, which is not redacted. The framer avoids this when the event after a loss carries `afterLoss`
 * (protocols/http1/README.md, "Tolerance"). The kernel gives no per-connection sequence numbers, so
 * the only signal is the loader's STATS records: cumulative drop counters (kernel reasons, and the
 * loader's own output drops), written into the record stream every stats interval.
 *
 * The rule, from how the loader orders its stream (bpf/loader/main.c: drain the ring, then read the
 * counters and append STATS):
 * - records between two STATS form a window, held here until the STATS that closes it arrives;
 * - if that STATS shows new losses, every record of the window is released with `afterLoss`, and
 *   every connection's next record after it too (a kernel drop counted by this STATS may precede
 *   records that were still in the ring when it was written);
 * - otherwise the window is released as is.
 * A loss can only have happened between the previous counter read and this one, and every record after
 * it is in this window or is some connection's first record after this STATS — so no record that
 * follows a loss escapes the hint. The price: under loss, hints are given generously (heads open across
 * the window are released as cut), and records wait up to one stats interval (250 ms by default).
 *
 * A window larger than `maxHeldRecords` (STATS stopped coming) is released with the hint, conservatively.
 */
import type { LoaderRecord, StatsRecord } from '../capture/loader/record-decoder.ts';
import type { DropReasonName } from '../capture/loader/record-layout.ts';

/**
 * Kernel drop reasons that lose a record of a traced connection (READ_USER: an unreadable msghdr skips
 * the syscall). The truncations (IOV_LIMIT, READ_PAYLOAD) never do: the record is emitted with a flag.
 * Nor do the losses that concern no data record of a traced connection: PENDING_MAP_FULL (a connect()
 * outcome), TLS_UNBOUND (plaintext of an SSL* not tied to a connection yet, and a connection reports
 * nothing before it is tied) and TLS_NOTICE (a library found late).
 */
export const LOSSY_KERNEL_REASONS: readonly DropReasonName[] = [
  'RINGBUF_FULL',
  'CONN_MAP_FULL',
  'ARGS_MAP_FULL',
  'READ_USER',
  'READ_KERNEL',
  'CONN_MISMATCH',
  'SCRATCH',
];

export type ConnRecord = Exclude<
  LoaderRecord,
  { kind: 'stats' } | { kind: 'ready' } | { kind: 'nat' } | { kind: 'tls_library' }
>;

export interface LossGateOptions {
  /** Records held at most before a window is released with the hint. Default 100000. */
  maxHeldRecords?: number;
}

export class LossGate {
  readonly #maxHeld: number;
  #held: ConnRecord[] = [];
  /** The last cumulative loss count seen (per loader run: reset by `reset`). */
  #lastLosses = 0;
  /** Increases with every lossy window; a connection whose last record saw an older epoch gets the hint. */
  #epoch = 0;
  /** Windows released with the hint. */
  lossyWindows = 0;
  /** Windows released because they grew past the limit. */
  overflows = 0;

  constructor(options: LossGateOptions = {}) {
    this.#maxHeld = options.maxHeldRecords ?? 100_000;
  }

  /** The current loss epoch (see `release`). */
  get epoch(): number {
    return this.#epoch;
  }

  get heldRecords(): number {
    return this.#held.length;
  }

  /** A new loader run: its counters start from zero. Call after releasing what the previous run left. */
  reset(): void {
    this.#lastLosses = 0;
  }

  /**
   * Holds a connection record. Returns true when the window is over its limit and must be released now
   * (with the hint) by the caller.
   */
  hold(record: ConnRecord): boolean {
    this.#held.push(record);
    return this.#held.length >= this.#maxHeld;
  }

  /**
   * A STATS record closed the window. Calls `release(record, afterLoss)` for every held record, in
   * order. Records released with `afterLoss` false must still get the hint when their connection's last
   * epoch is older than `epoch` (the caller keeps the epoch per connection).
   */
  close(stats: StatsRecord, release: (record: ConnRecord, afterLoss: boolean) => void): void {
    const losses = lossCount(stats);
    const lossy = losses > this.#lastLosses;
    this.#lastLosses = losses;
    this.#drain(lossy, release);
    if (lossy) {
      this.lossyWindows++;
      this.#epoch++;
    }
  }

  /** Releases everything held with the hint: the stream ended, or the window overflowed. */
  flush(release: (record: ConnRecord, afterLoss: boolean) => void, overflow = false): void {
    if (this.#held.length === 0) return;
    if (overflow) this.overflows++;
    this.#drain(true, release);
    this.#epoch++;
  }

  #drain(afterLoss: boolean, release: (record: ConnRecord, afterLoss: boolean) => void): void {
    const held = this.#held;
    this.#held = [];
    for (const r of held) release(r, afterLoss);
  }
}

/** Records lost so far in this loader run: lossy kernel reasons plus the loader's own output drops. */
export function lossCount(stats: StatsRecord): number {
  let n = stats.loaderDroppedRecords;
  for (const reason of LOSSY_KERNEL_REASONS) n += stats.kernelDrops[reason] ?? 0;
  return n;
}
