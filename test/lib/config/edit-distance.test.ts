import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { closest, editDistance } from '../../../lib/config/edit-distance.ts';

describe('edit distance', () => {
  it('counts letters added, dropped, changed, and two neighbours swapped as one', () => {
    const cases: Array<[string, string, number]> = [
      ['otlp', 'otlp', 0],
      ['otpl', 'otlp', 1], // swapped
      ['otl', 'otlp', 1], // dropped
      ['otlpp', 'otlp', 1], // added
      ['otlb', 'otlp', 1], // changed
      ['http', 'otlp', 2],
      ['otel', 'otlp', 2],
      ['span-asembelr', 'span-assembler', 2],
      ['', 'abc', 3],
      ['abc', '', 3],
      // Optimal string alignment: a swapped pair is not edited again (true Damerau would say 2).
      ['ca', 'abc', 3],
    ];
    for (const [a, b, d] of cases) {
      assert.equal(editDistance(a, b), d, `${a} → ${b}`);
      assert.equal(editDistance(b, a), d, `${b} → ${a}`);
    }
  });

  it('closest: the nearest candidate within the bound, case aside; the first of a tie', () => {
    assert.equal(closest('brokres', ['clientId', 'brokers'], 2), 'brokers');
    assert.equal(closest('BROKERS', ['brokers'], 0), 'brokers');
    assert.equal(closest('zzz', ['brokers'], 2), undefined);
    assert.equal(closest('ab', ['ax', 'xb'], 1), 'ax');
  });
});
