/**
 * Percentiles over the most recent N durations: what a live status line wants ("p99 now", not since
 * start), in constant memory. Sorting 1,000 numbers per read is cheap next to the once-a-second reads.
 */
export class LatencyWindow {
  readonly #values: Float64Array;
  #next = 0;
  #filled = 0;

  constructor(size = 1000) {
    this.#values = new Float64Array(size);
  }

  add(ms: number): void {
    this.#values[this.#next] = ms;
    this.#next = (this.#next + 1) % this.#values.length;
    if (this.#filled < this.#values.length) this.#filled++;
  }

  /** Nearest-rank percentile (p in 0..100) of the window, or null when it is empty. */
  percentile(p: number): number | null {
    if (this.#filled === 0) return null;
    const sorted = this.#values.slice(0, this.#filled).sort();
    const rank = Math.min(this.#filled, Math.max(1, Math.ceil((p / 100) * this.#filled)));
    return sorted[rank - 1]!;
  }

  /** p50 and p99 in ms rounded to 0.1 ms: the pair every status line shows. */
  summary(): { p50Ms: number | null; p99Ms: number | null } {
    const round = (v: number | null) => (v === null ? null : Math.round(v * 10) / 10);
    return { p50Ms: round(this.percentile(50)), p99Ms: round(this.percentile(99)) };
  }
}
