/**
 * What `meshpipe up --demo` changes so that the quick start shows an anomaly in minutes, not half an hour:
 * configuration defaults for its components (MESHPIPE_CONFIG_DEFAULTS, under your meshpipe.json, which
 * wins key by key). The production defaults — one-minute windows and a 30-window warm-up — are right for
 * real services and would make the demo's detector learn for 30 minutes first.
 *
 *   red-metrics        2 s windows, so a 10 s detector window holds several samples of every series
 *   anomaly-deltas     10 s windows, the detector's (one heartbeat per window for a quiet series)
 *   anomaly-detector   10 s windows (fire: 3, resolve: 5 consecutive), a 6-window (one-minute) warm-up,
 *                      10 s allowed lateness (spans wait ~2-5 s in assembly, linking and red-metrics);
 *                      latency floors of +50 ms (p50) and +100 ms (p99): a laptop that is also compiling
 *                      moves the demo's few-millisecond latencies by tens of ms, which is not the news
 *                      `meshpipe demo fault orders latency=100` is (README's `errors=0.2` needs none)
 *
 * docs/demo.md and docs/alerts.md explain these numbers; README's quick start relies on them.
 */
export const DEMO_CONFIG_DEFAULTS = {
  processors: {
    'red-metrics': { windowMs: 2_000 },
    'anomaly-deltas': { windowMs: 10_000 },
    'anomaly-detector': {
      windowMs: 10_000,
      allowedLatenessMs: 10_000,
      warmupWindows: 6,
      latency: { p50: { minAbsoluteIncreaseSeconds: 0.05 }, p99: { minAbsoluteIncreaseSeconds: 0.1 } },
    },
  },
};

/** How long, after demo traffic reaches it, the detector only learns (for up's message). */
export const DEMO_WARMUP_SECONDS =
  (DEMO_CONFIG_DEFAULTS.processors['anomaly-detector'].windowMs *
    DEMO_CONFIG_DEFAULTS.processors['anomaly-detector'].warmupWindows) /
  1000;
