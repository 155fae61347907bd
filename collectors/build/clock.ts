/**
 * Kernel timestamps to wall-clock time, exactly.
 *
 * Every capture timestamp is `bpf_ktime_get_ns()`: CLOCK_MONOTONIC, nanoseconds since boot, never
 * stepped. Wall-clock time is CLOCK_REALTIME, which NTP slews and an operator may step. The loader
 * samples the two clocks back to back in READY and in every STATS record (bpf/loader/main.c), so
 *
 *     unix(t) = realtime + (t - monotonic)    for the latest (monotonic, realtime) pair,
 *
 * computed in BigInt: Unix nanoseconds (~1.8e18) are far beyond 2^53, and a float would round every
 * timestamp by up to 256 ns. Taking the latest pair follows NTP slewing and steps within a stats
 * interval; ordering within the node stays exact through `monotonicNs`, which is shipped too.
 */
export class CaptureClock {
  /** realtime − monotonic of the latest pair; null until the loader sent one. */
  #offset: bigint | null = null;

  /** Takes a (monotonic, realtime) pair sampled together by the loader (READY or STATS). */
  update(monotonicNs: bigint, realtimeNs: bigint): void {
    this.#offset = realtimeNs - monotonicNs;
  }

  get ready(): boolean {
    return this.#offset !== null;
  }

  /** Unix nanoseconds of a kernel monotonic timestamp. Before the first pair: the host's own offset. */
  toUnixNs(monotonicNs: bigint): bigint {
    this.#offset ??= hostOffset();
    return monotonicNs + this.#offset;
  }
}

/**
 * The offset measured here, for a record that arrives before READY (cannot happen with a conforming
 * loader, which writes READY first): process.hrtime is CLOCK_MONOTONIC on Linux, the kernel's clock.
 */
function hostOffset(): bigint {
  const mono = process.hrtime.bigint();
  const real = BigInt(Date.now()) * 1_000_000n;
  return real - mono;
}
