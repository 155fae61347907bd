import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NO_FAULT } from '../../demo/fault.ts';
import type { ServiceStats } from '../../demo/services/admin-api.ts';
import { statusLine, summarize } from '../../demo/status.ts';
import type { DemoStats } from '../../demo/topology.ts';

function service(name: ServiceStats['service'], requests: number, errors: number): ServiceStats {
  return {
    service: name,
    pid: 1,
    propagate: true,
    fault: name === 'orders' ? { ...NO_FAULT, latencyMs: 300 } : NO_FAULT,
    requests,
    statusClasses: { '2xx': requests - errors, '5xx': errors },
    injectedErrors: 0,
    connections: { accepted: 2, open: 2 },
    upstream: { calls: 0, errors: 0 },
    latency: { p50Ms: 3.25, p99Ms: 120 },
  };
}

function stats(time: string, requests: number, errors: number): DemoStats {
  return {
    time,
    load: {
      sent: requests,
      ok: requests - errors,
      clientErrors: 0,
      serverErrors: errors,
      failed: 0,
      skipped: 0,
      inFlight: 0,
      latency: { p50Ms: 4, p99Ms: 150 },
      elapsedMs: 1000,
    },
    services: {
      gateway: service('gateway', requests, errors),
      orders: service('orders', requests, errors),
      inventory: service('inventory', requests * 2, 0),
    },
  };
}

describe('demo status', () => {
  it('computes rates and error ratios over the interval, not since start', () => {
    const prev = stats('2026-01-01T00:00:00.000Z', 100, 0);
    const cur = stats('2026-01-01T00:00:02.000Z', 140, 10);
    const s = summarize(prev, cur);
    assert.equal(s.load?.ratePerSec, 20);
    assert.equal(s.load?.errorRatio, 0.25);
    assert.equal(s.services.gateway.ratePerSec, 20);
    assert.equal(s.services.gateway.errorRatio, 0.25);
    assert.equal(s.services.inventory.ratePerSec, 40);
    assert.equal(s.services.orders.fault, 'latency 300 ms');
  });

  it('renders one line with every service and its fault', () => {
    const line = statusLine(summarize(undefined, stats('2026-01-01T00:00:00.000Z', 20, 0)));
    assert.match(line, /^load 20\.0\/s 0\.0% err p50 4\.0 p99 150 ms · gateway /);
    assert.match(line, /orders .* \[latency 300 ms\] · inventory /);
  });
});
