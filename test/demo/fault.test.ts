import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  describeFault,
  faultDelayMs,
  faultSettings,
  injectError,
  mergeFault,
  NO_FAULT,
  parseFaultSetting,
  parseServiceFault,
} from '../../demo/fault.ts';
import { isMeshpipeError } from '../../lib/errors.ts';

describe('demo faults', () => {
  const valid: Array<[string, object]> = [
    ['latency=300', { latencyMs: 300, jitterMs: 0 }],
    ['latency=300~50', { latencyMs: 300, jitterMs: 50 }],
    ['latency=0', { latencyMs: 0, jitterMs: 0 }],
    ['errors=0.25', { errorRate: 0.25 }],
    ['errors=20%', { errorRate: 0.2 }],
    ['errors=1', { errorRate: 1 }],
    ['none', { latencyMs: 0, jitterMs: 0, errorRate: 0 }],
  ];
  for (const [text, expected] of valid) {
    it(`parses ${text}`, () => assert.deepEqual(parseFaultSetting(text), expected));
  }

  const invalid = [
    'latency=',
    'latency=-5',
    'latency=abc',
    'latency=70000',
    'errors=1.5',
    'errors=x',
    'timeout=3',
    '',
  ];
  for (const text of invalid) {
    it(`rejects "${text}" with DEMO_BAD_FAULT`, () =>
      assert.throws(
        () => parseFaultSetting(text),
        (e) => isMeshpipeError(e, 'DEMO_BAD_FAULT'),
      ));
  }

  it('parses <service>:<setting> and rejects unknown services', () => {
    assert.deepEqual(parseServiceFault('orders:latency=200~20'), {
      service: 'orders',
      change: { latencyMs: 200, jitterMs: 20 },
    });
    for (const text of ['payments:latency=1', 'latency=1', ':errors=0.1'])
      assert.throws(
        () => parseServiceFault(text),
        (e) => isMeshpipeError(e, 'DEMO_BAD_FAULT'),
      );
  });

  it('merges changes and rejects unknown fields and wrong types (admin API input)', () => {
    assert.deepEqual(mergeFault({ ...NO_FAULT, errorRate: 0.5 }, { latencyMs: 10 }), {
      latencyMs: 10,
      jitterMs: 0,
      errorRate: 0.5,
    });
    for (const change of [{ latency: 1 }, { latencyMs: '1' }, { errorRate: 2 }, null, 'x'])
      assert.throws(
        () => mergeFault(NO_FAULT, change),
        (e) => isMeshpipeError(e, 'DEMO_BAD_FAULT'),
      );
  });

  it('settings round-trip through faultSettings', () => {
    const change = { latencyMs: 120, jitterMs: 30, errorRate: 0.1 };
    const parsed = faultSettings(change).reduce((f, s) => mergeFault(f, parseFaultSetting(s)), NO_FAULT);
    assert.deepEqual(parsed, change);
  });

  it('delays within latency ± jitter, never below zero, and injects by ratio', () => {
    const fault = { latencyMs: 100, jitterMs: 40, errorRate: 0.3 };
    assert.equal(
      faultDelayMs(fault, () => 0),
      60,
    );
    assert.equal(
      faultDelayMs(fault, () => 0.5),
      100,
    );
    assert.equal(
      faultDelayMs({ ...fault, latencyMs: 10 }, () => 0),
      0,
    );
    assert.equal(
      faultDelayMs(NO_FAULT, () => 0),
      0,
    );
    assert.equal(
      injectError(fault, () => 0.29),
      true,
    );
    assert.equal(
      injectError(fault, () => 0.3),
      false,
    );
    assert.equal(
      injectError(NO_FAULT, () => 0),
      false,
    );
  });

  it('describes faults for status lines', () => {
    assert.equal(describeFault(NO_FAULT), 'none');
    assert.equal(
      describeFault({ latencyMs: 300, jitterMs: 50, errorRate: 0.125 }),
      'latency 300±50 ms, errors 12.5%',
    );
  });
});
