import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  initialCheck,
  stepCheck,
  type Verdict,
  verdictAbove,
  verdictBelow,
} from '../../../processors/anomaly-detector/hysteresis.ts';

const OPTIONS = { fireWindows: 3, resolveWindows: 2 };
const B: Verdict = 'breach';
const D: Verdict = 'deadband';
const C: Verdict = 'clear';

// Each case: verdicts window by window → the transitions they produce (undefined: none).
const CASES: Array<{
  name: string;
  verdicts: Verdict[];
  expected: Array<'FIRING' | 'RESOLVED' | undefined>;
}> = [
  {
    name: 'three breaches fire on the third',
    verdicts: [B, B, B],
    expected: [undefined, undefined, 'FIRING'],
  },
  {
    name: 'a clear window resets the count',
    verdicts: [B, B, C, B, B],
    expected: [undefined, undefined, undefined, undefined, undefined],
  },
  {
    name: 'so does the dead band before firing',
    verdicts: [B, B, D, B, B, B],
    expected: [undefined, undefined, undefined, undefined, undefined, 'FIRING'],
  },
  {
    name: 'firing: two clear windows resolve',
    verdicts: [B, B, B, C, C],
    expected: [undefined, undefined, 'FIRING', undefined, 'RESOLVED'],
  },
  {
    name: 'firing: the dead band holds it and resets the clear count',
    verdicts: [B, B, B, C, D, C, B, C, C],
    expected: [
      undefined,
      undefined,
      'FIRING',
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
      'RESOLVED',
    ],
  },
];

for (const c of CASES) {
  test(`stepCheck: ${c.name}`, () => {
    const state = initialCheck();
    assert.deepEqual(
      c.verdicts.map((v) => stepCheck(state, v, OPTIONS)),
      c.expected,
    );
  });
}

test('verdicts: fire beyond, clear within the resolve line, dead band between', () => {
  const up = { fire: 10, resolve: 5 };
  assert.deepEqual(
    [11, 10, 7, 5, 1].map((v) => verdictAbove(v, up)),
    [B, D, D, C, C],
  );
  const down = { fire: 10, resolve: 20 };
  assert.deepEqual(
    [9, 10, 15, 20, 30].map((v) => verdictBelow(v, down)),
    [B, D, D, C, C],
  );
});
