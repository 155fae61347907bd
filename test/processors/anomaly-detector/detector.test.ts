/**
 * The detector end to end in memory, on emulated red-metrics traffic of the demo topology
 * (red-metrics-emulator.ts): faults injected into one service fire within a bounded number of windows
 * and resolve after recovery; a long, noisy but healthy run fires nothing; warm-up, silence, surges,
 * hysteresis and the evidence on the records.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Anomaly } from '../../../schemas/types.ts';
import { simulate, TEST_CONFIG } from './harness.ts';

const WARM = 30; // windows of healthy traffic before a fault: past warm-up with history to spare

/** Transitions of one type on one service, per route (default) or service-wide. */
function pick(
  anomalies: Anomaly[],
  type: string,
  service: string,
  status = 'FIRING',
  level: 'route' | 'service' = type === 'SLO_BURN_RATE' ? 'service' : 'route',
): Anomaly[] {
  return anomalies.filter(
    (a) =>
      a.type === type &&
      a.service === service &&
      a.status === status &&
      (a.route === null) === (level === 'service'),
  );
}

/** Runs window by window until `until` holds; returns the windows it took and everything emitted. */
function runUntil(sim: ReturnType<typeof simulate>, maxWindows: number, until: (all: Anomaly[]) => boolean) {
  const seen: Anomaly[] = [];
  for (let w = 1; w <= maxWindows; w++) {
    sim.run(1);
    seen.push(...sim.take());
    if (until(seen)) return { windows: w, seen };
  }
  return { windows: Number.POSITIVE_INFINITY, seen };
}

describe('latency injected into inventory', () => {
  test('p50 and p99 fire within fireWindows + 2 windows, with evidence, and resolve after recovery', () => {
    const sim = simulate();
    sim.run(WARM);
    assert.deepEqual(sim.take(), [], 'healthy warm-up traffic raises nothing');

    sim.traffic.setFault('inventory', { latencyMs: 300 });
    const fired = runUntil(sim, 10, (all) => pick(all, 'LATENCY_P99', 'inventory').length > 0);
    // fireWindows (3) consecutive breaching windows, plus the window in flight and the lateness wait.
    assert.ok(fired.windows <= 3 + 2, `p99 fired after ${fired.windows} windows`);
    sim.run(3);
    const all = [...fired.seen, ...sim.take()];
    const [p99] = pick(all, 'LATENCY_P99', 'inventory');
    const [p50] = pick(all, 'LATENCY_P50', 'inventory');
    assert.ok(p99 !== undefined && p50 !== undefined);
    assert.equal(p99.route, '/inventory/:sku');
    assert.equal(p99.method, 'GET');
    assert.equal(p99.severity, 'WARNING');
    assert.equal(p99.evidence.unit, 's');
    assert.ok(p99.evidence.observed >= 0.25, `observed p99 ${p99.evidence.observed} s includes the 300 ms`);
    assert.ok(p99.evidence.baseline < 0.02, `baseline ${p99.evidence.baseline} s is the healthy p99`);
    assert.ok(
      p99.evidence.observed > p99.evidence.threshold && p99.evidence.threshold > p99.evidence.baseline,
    );
    assert.equal(p99.evidence.windowEndUnixNano - p99.evidence.windowStartUnixNano, 1_000_000_000n);
    assert.ok(p99.evidence.exampleTraceIds.length > 0, 'exemplars give example traces');
    for (const id of p99.evidence.exampleTraceIds) assert.match(id, /^[0-9a-f]{32}$/);
    assert.equal(p99.startsAtUnixNano, p99.evidence.windowEndUnixNano);
    assert.equal(p99.endsAtUnixNano, null);
    // The callers are slower too: the latency propagates up the chain.
    assert.equal(pick(all, 'LATENCY_P99', 'orders').length, 1);
    assert.equal(pick(all, 'LATENCY_P99', 'gateway').length, 1);
    // The service-wide view of inventory (its routes summed) fires too, under its own fingerprint.
    const [wide] = pick(all, 'LATENCY_P99', 'inventory', 'FIRING', 'service');
    assert.ok(wide !== undefined && wide.route === null && wide.method === null);
    assert.notEqual(wide.fingerprint, p99.fingerprint);

    sim.traffic.setFault('inventory', {});
    const resolved = runUntil(
      sim,
      15,
      (seen) => pick(seen, 'LATENCY_P99', 'inventory', 'RESOLVED').length > 0,
    );
    // resolveWindows (5) clear windows plus the window in flight and the lateness wait.
    assert.ok(resolved.windows <= 5 + 2, `p99 resolved after ${resolved.windows} windows`);
    const [back] = pick(resolved.seen, 'LATENCY_P99', 'inventory', 'RESOLVED');
    assert.equal(back!.fingerprint, p99.fingerprint, 'one fingerprint for both transitions');
    assert.notEqual(back!.transitionId, p99.transitionId);
    assert.equal(back!.startsAtUnixNano, p99.startsAtUnixNano, 'RESOLVED keeps when it started');
    assert.equal(back!.endsAtUnixNano, back!.evidence.windowEndUnixNano);
    assert.ok(back!.evidence.observed <= back!.evidence.threshold);

    sim.run(20);
    assert.deepEqual(
      sim.take().filter((a) => a.status === 'FIRING'),
      [],
      'nothing fires again after recovery',
    );
  });
});

describe('errors injected into inventory', () => {
  test('first 5xx, error ratio and the fast SLO burn fire; all resolve after recovery', () => {
    const sim = simulate({ seed: 11 });
    sim.run(WARM);
    assert.deepEqual(sim.take(), []);
    sim.traffic.setFault('inventory', { errorRate: 0.3 });
    const fired = runUntil(
      sim,
      10,
      (all) =>
        pick(all, 'ERROR_RATIO', 'inventory').length > 0 &&
        pick(all, 'NEW_STATUS_CLASS', 'inventory').length > 0 &&
        pick(all, 'SLO_BURN_RATE', 'inventory').some((a) => a.labels.tier === 'fast'),
    );
    assert.ok(fired.windows <= 3 + 2, `fired after ${fired.windows} windows`);

    const [fresh] = pick(fired.seen, 'NEW_STATUS_CLASS', 'inventory');
    assert.equal(fresh!.labels.status_class, '5xx');
    assert.equal(fresh!.severity, 'WARNING');
    assert.ok(fresh!.evidence.exampleTraceIds.length > 0, 'traces of the failing requests');

    const [ratio] = pick(fired.seen, 'ERROR_RATIO', 'inventory');
    assert.equal(ratio!.severity, 'CRITICAL');
    assert.equal(ratio!.evidence.unit, '1');
    assert.ok(
      ratio!.evidence.observed > 0.15 && ratio!.evidence.observed < 0.5,
      `${ratio!.evidence.observed}`,
    );
    assert.equal(ratio!.evidence.baseline, 0);

    const page = pick(fired.seen, 'SLO_BURN_RATE', 'inventory').find((a) => a.labels.tier === 'fast')!;
    assert.equal(page.severity, 'CRITICAL');
    assert.equal(page.route, null, 'SLOs are per service');
    assert.equal(page.labels.slo, 'availability');
    assert.equal(page.labels.objective, '0.999');
    assert.equal(page.labels.long_window, '10s', '1 h × windowScale 1/360');
    assert.ok(page.evidence.observed > 14.4);
    assert.ok(Number(page.labels.burn_rate_short) > 14.4);

    // gateway and orders turn inventory's failures into 502s: they burn their budgets too.
    assert.ok(pick(fired.seen, 'NEW_STATUS_CLASS', 'gateway').length > 0);

    sim.traffic.setFault('inventory', {});
    const resolved = runUntil(sim, 20, (seen) =>
      ['ERROR_RATIO', 'NEW_STATUS_CLASS', 'SLO_BURN_RATE'].every(
        (type) =>
          pick(seen, type, 'inventory', 'RESOLVED').length >= pick(fired.seen, type, 'inventory').length,
      ),
    );
    // newStatusClass.resolveWindows (10) is the slowest to come back.
    assert.ok(resolved.windows <= 10 + 2, `resolved after ${resolved.windows} windows`);
    sim.run(15);
    const later = [...resolved.seen, ...sim.take()];
    for (const type of ['ERROR_RATIO', 'NEW_STATUS_CLASS', 'LATENCY_P99']) {
      assert.equal(pick(later, type, 'inventory').length, 0, `${type} does not fire again after recovery`);
    }

    // The class is known now: 5xx coming back is the error ratio's business, not news.
    sim.traffic.setFault('inventory', { errorRate: 0.3 });
    sim.run(8);
    const again = sim.take();
    assert.equal(pick(again, 'NEW_STATUS_CLASS', 'inventory').length, 0);
    assert.equal(pick(again, 'ERROR_RATIO', 'inventory').length, 1);
  });
});

describe('traffic', () => {
  test('traffic that stops entirely (no samples at all) fires a critical drop on the wall clock', () => {
    const sim = simulate({ seed: 5 });
    sim.run(WARM);
    assert.deepEqual(sim.take(), []);
    sim.silent(12); // red-metrics emits nothing: only punctuation can close the windows
    const drops = sim.take().filter((a) => a.type === 'TRAFFIC_DROP' && a.status === 'FIRING');
    const routes = new Set(drops.map((a) => `${a.service} ${a.route}`));
    assert.ok(
      routes.has('inventory /inventory/:sku') && routes.has('gateway /api/orders/:id'),
      [...routes].join(),
    );
    for (const d of drops) {
      assert.equal(d.severity, 'CRITICAL', 'a drop to nothing is critical');
      assert.equal(d.evidence.observed, 0);
      assert.equal(d.evidence.unit, '{request}/s');
    }
    assert.ok(sim.harness.t.counters().idle_windows_closed! > 0);

    sim.run(8);
    const back = sim.take().filter((a) => a.type === 'TRAFFIC_DROP' && a.status === 'RESOLVED');
    assert.deepEqual(new Set(back.map((a) => `${a.service} ${a.route}`)), routes, 'every drop resolves');
  });

  test('idle series that red-metrics keeps flushing (zero deltas) close windows on event time', () => {
    const sim = simulate({ seed: 6 });
    sim.run(WARM);
    sim.idle(6);
    const drops = sim.take().filter((a) => a.type === 'TRAFFIC_DROP' && a.status === 'FIRING');
    assert.ok(drops.length > 0);
    assert.equal(sim.harness.t.counters().idle_windows_closed ?? 0, 0, 'heartbeats kept event time moving');
  });

  test('a surge of 4x fires at INFO and resolves', () => {
    const sim = simulate({ seed: 8 });
    sim.run(WARM, 30);
    sim.run(6, 120);
    const surges = sim.take().filter((a) => a.type === 'TRAFFIC_SURGE');
    assert.ok(surges.some((a) => a.service === 'gateway' && a.status === 'FIRING' && a.severity === 'INFO'));
    sim.run(10, 30);
    assert.ok(sim.take().some((a) => a.type === 'TRAFFIC_SURGE' && a.status === 'RESOLVED'));
  });
});

describe('warm-up and steady state', () => {
  test('no alert before warmupWindows, whatever the traffic looks like', () => {
    const sim = simulate({ seed: 3 });
    sim.traffic.setFault('inventory', { latencyMs: 300, errorRate: 0.3 });
    sim.run(TEST_CONFIG.warmupWindows - 1);
    assert.deepEqual(
      sim.take().filter((a) => a.type !== 'SLO_BURN_RATE'),
      [],
      'baselines are still learning',
    );
  });

  test('a long, noisy but healthy run raises no alert (false positives counted)', () => {
    // 400 windows with log-normal latency noise, rate noise, rate swings of ±30%, one-window latency
    // spikes (GC pauses) on 3% of windows per service, and a 1% background error rate on inventory that
    // the services' 99% objectives allow (burn rate 1-2x).
    const config = {
      ...TEST_CONFIG,
      warmupWindows: 30,
      slo: { ...TEST_CONFIG.slo, objectives: { '*': { availability: 0.99 } } },
    };
    const sim = simulate({ seed: 42, config });
    sim.traffic.setFault('inventory', { errorRate: 0.01 });
    const spikes = ['gateway', 'orders', 'inventory'] as const;
    let spikeCount = 0;
    for (let w = 0; w < 400; w++) {
      const spiking = spikes.filter((_, i) => (w * 7919 + i * 104729) % 100 < 3);
      for (const s of spiking) sim.traffic.setFault(s, { ...sim.traffic.faults[s], latencyMs: 80 });
      spikeCount += spiking.length;
      sim.run(1, 40 * (1 + 0.3 * Math.sin(w / 15)));
      for (const s of spiking) sim.traffic.setFault(s, { ...sim.traffic.faults[s], latencyMs: 0 });
    }
    assert.ok(spikeCount > 20, `${spikeCount} spikes were injected`);
    const falsePositives = sim.take().filter((a) => a.status === 'FIRING');
    assert.deepEqual(
      falsePositives.map((a) => `${a.type} ${a.service} ${a.route ?? ''}: ${a.summary}`),
      [],
      `${falsePositives.length} false positives in 400 windows`,
    );
  });
});

describe('hysteresis', () => {
  test('a latency that alternates around the threshold never fires: breaches must be consecutive', () => {
    const sim = simulate({ seed: 9 });
    sim.run(WARM);
    for (let i = 0; i < 10; i++) {
      sim.traffic.setFault('inventory', { latencyMs: i % 2 === 0 ? 300 : 0 });
      sim.run(1);
    }
    assert.equal(pick(sim.take(), 'LATENCY_P99', 'inventory').length, 0);
  });

  test('once firing, one good window among bad ones does not resolve it (no flapping)', () => {
    const sim = simulate({ seed: 10 });
    sim.run(WARM);
    sim.traffic.setFault('inventory', { latencyMs: 300 });
    sim.run(6);
    assert.equal(pick(sim.take(), 'LATENCY_P99', 'inventory').length, 1);
    for (let i = 0; i < 12; i++) {
      sim.traffic.setFault('inventory', { latencyMs: i % 3 === 0 ? 0 : 300 });
      sim.run(1);
    }
    const during = sim.take();
    assert.equal(pick(during, 'LATENCY_P99', 'inventory', 'RESOLVED').length, 0);
    assert.equal(pick(during, 'LATENCY_P99', 'inventory').length, 0);
  });

  test('an anomaly that lasts longer than relearnAfterWindows becomes the baseline and resolves', () => {
    const sim = simulate({
      seed: 12,
      config: { ...TEST_CONFIG, relearnAfterWindows: 10, historyWindows: 30 },
    });
    sim.run(WARM);
    sim.traffic.setFault('inventory', { latencyMs: 100 });
    sim.run(6);
    assert.equal(pick(sim.take(), 'LATENCY_P50', 'inventory').length, 1);
    const relearnt = runUntil(
      sim,
      60,
      (seen) => pick(seen, 'LATENCY_P50', 'inventory', 'RESOLVED').length > 0,
    );
    assert.ok(Number.isFinite(relearnt.windows), 'the new level became normal');
  });
});

describe('records', () => {
  test('replaying the same input emits byte-identical transitions (deterministic ids)', () => {
    const run = () => {
      const sim = simulate({ seed: 13 });
      sim.run(WARM);
      sim.traffic.setFault('orders', { latencyMs: 200 });
      sim.run(8);
      return sim.take();
    };
    const a = run();
    assert.ok(a.length > 0);
    assert.deepEqual(run(), a);
    assert.equal(new Set(a.map((x) => x.transitionId)).size, a.length, 'transition ids are unique');
    for (const x of a) assert.doesNotMatch(x.transitionId, /:/, 'usable in a BullMQ job id');
  });
});
