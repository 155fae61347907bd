/**
 * Runs the detector's two processors in memory (processors/runtime/test-context.ts) on emulated
 * red-metrics traffic: samples go into anomaly-deltas, the deltas it emits into anomaly-detector (what
 * the deltas topic does), anomalies are collected. Time is simulated: a window of the detector per simulated
 * second, flushes of red-metrics `flushesPerWindow` times a window.
 */

import { seededRandom } from '../../../lib/seeded-random.ts';
import { deltasConfigSpec } from '../../../processors/anomaly-deltas/config.ts';
import anomalyDeltas from '../../../processors/anomaly-deltas/index.ts';
import { detectorConfigSpec } from '../../../processors/anomaly-detector/config.ts';
import anomalyDetector from '../../../processors/anomaly-detector/index.ts';
import { HOST_KEYS } from '../../../processors/runtime/config.ts';
import { type Emitted, testProcessor } from '../../../processors/runtime/test-context.ts';
import { TOPICS } from '../../../schemas/topics.ts';
import type { Anomaly, MetricSample } from '../../../schemas/types.ts';
import { DemoTraffic, RedMetricsEmulator } from './red-metrics-emulator.ts';

export const START_MS = 1_700_000_000_000;

/** Short windows for tests; everything else at its default unless a test says otherwise. */
export const TEST_CONFIG = {
  windowMs: 1000,
  allowedLatenessMs: 500,
  idleTimeoutMs: 3000,
  warmupWindows: 10,
  historyWindows: 60,
  slo: { windowScale: 1 / 360 },
};

/** `processors.*` of the two processors from one test config: each takes the keys its spec has. */
export function splitConfig(config: Record<string, unknown>): {
  deltas: Record<string, unknown>;
  detector: Record<string, unknown>;
} {
  // The host's own keys (runtime, startFrom, enabled) go to both.
  const pick = (fields: object) =>
    Object.fromEntries(
      Object.entries(config).filter(
        ([key]) => Object.hasOwn(fields, key) || (HOST_KEYS as readonly string[]).includes(key),
      ),
    );
  return { deltas: pick(deltasConfigSpec.fields), detector: pick(detectorConfigSpec.fields) };
}

export function detectorHarness(config: Record<string, unknown> = TEST_CONFIG) {
  const split = splitConfig(config);
  const deltas = testProcessor(anomalyDeltas, { config: split.deltas, now: START_MS });
  const t = testProcessor(anomalyDetector, { config: split.detector, now: START_MS });
  const anomalies: Anomaly[] = [];
  const drain = (out: readonly Emitted[]): void => {
    for (const e of out) {
      if (e.topic.endsWith(`.${TOPICS.deltas.suffix}`)) {
        drain(t.process(e.value, { input: 'deltas', key: e.key }));
      } else if (e.topic.endsWith('.anomalies.v1')) {
        if (e.key !== (e.value as Anomaly).fingerprint) throw new Error('anomalies are keyed by fingerprint');
        anomalies.push(e.value as Anomaly);
      }
    }
  };
  const setTime = (ms: number) => {
    deltas.setTime(ms);
    t.setTime(ms);
  };
  return {
    /** anomaly-detector's test context (anomaly-deltas' is `deltas`). */
    t,
    deltas,
    anomalies,
    /** Feeds samples produced at `atMs`; the processors see them `lagMs` later. */
    feed(samples: readonly MetricSample[], atMs: number, lagMs = 50): void {
      setTime(atMs + lagMs);
      for (const s of samples) drain(deltas.process(s, { input: 'metrics', key: s.seriesId }));
    },
    punctuate(atMs: number): void {
      setTime(atMs);
      drain(deltas.punctuate());
      drain(t.punctuate());
    },
  };
}

export interface Simulation {
  harness: ReturnType<typeof detectorHarness>;
  traffic: DemoTraffic;
  emulator: RedMetricsEmulator;
  /** Simulated time of the next flush, ms. */
  now: number;
  /** Runs `windows` windows of traffic at `rate` requests/s into the gateway. */
  run(windows: number, rate?: number): void;
  /** Runs `windows` windows with no request at all: red-metrics keeps flushing unchanged series. */
  idle(windows: number): void;
  /** Runs `windows` windows in which red-metrics emits nothing (it stopped, or never flushes idle series). */
  silent(windows: number): void;
  /** Anomalies emitted since the last call. */
  take(): Anomaly[];
}

export function simulate(
  options: { config?: Record<string, unknown>; seed?: number; flushesPerWindow?: number; rate?: number } = {},
): Simulation {
  const harness = detectorHarness(options.config ?? TEST_CONFIG);
  const traffic = new DemoTraffic(options.seed ?? 7);
  const emulator = new RedMetricsEmulator({ startMs: START_MS });
  const random = seededRandom((options.seed ?? 7) + 1);
  const flushes = options.flushesPerWindow ?? 2;
  const windowMs = Number((options.config ?? TEST_CONFIG).windowMs ?? 1000);
  const step = windowMs / flushes;
  let taken = 0;
  const sim: Simulation = {
    harness,
    traffic,
    emulator,
    now: START_MS + step,
    run(windows, rate = options.rate ?? 40) {
      for (let i = 0; i < windows * flushes; i++) {
        // Poisson-like arrivals: the expected count per flush interval, ±noise.
        const expected = (rate * step) / 1000;
        const n = Math.max(0, Math.round(expected + (random() - 0.5) * 2 * Math.sqrt(expected)));
        for (let k = 0; k < n; k++) {
          const at = sim.now - step + Math.floor(((k + 0.5) * step) / n);
          for (const o of traffic.request(at)) emulator.observe(o);
        }
        harness.feed(emulator.flush(sim.now), sim.now);
        harness.punctuate(sim.now + 60);
        sim.now += step;
      }
    },
    idle(windows) {
      sim.run(windows, 0);
    },
    silent(windows) {
      for (let i = 0; i < windows * flushes; i++) {
        harness.punctuate(sim.now + 60);
        sim.now += step;
      }
    },
    take() {
      const out = harness.anomalies.slice(taken);
      taken = harness.anomalies.length;
      return out;
    },
  };
  return sim;
}
