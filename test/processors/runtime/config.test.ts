import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ERRORS } from '../../../lib/errors.ts';
import { resolveProcessorSettings } from '../../../processors/runtime/config.ts';
import counter from './fixtures/counter.ts';

const settings = (section: Record<string, unknown>) =>
  resolveProcessorSettings(counter, { processors: { counter: section } });

describe('processor configuration', () => {
  it('has defaults, and hands the handler only its own keys', () => {
    const s = settings({});
    assert.equal(s.enabled, true);
    assert.equal(s.startFrom, 'earliest');
    assert.equal(s.runtime.sessionTimeoutMs, 30_000);
    assert.deepEqual(s.config, { step: 1, tickMs: 3_600_000 });
  });

  it("refuses another section named a typo of a built-in processor's name, naming the key and the fix", () => {
    assert.throws(
      () => resolveProcessorSettings(counter, { processors: { counter: {}, 'span-asembler': {} } }),
      (err: Error & { code: string; exitCode: number; hint: string }) => {
        assert.equal(err.code, ERRORS.CONFIG_SECTION_MISSPELLED.code);
        assert.equal(err.exitCode, 78);
        assert.match(err.message, /"processors\.span-asembler".*did you mean "processors\.span-assembler"/);
        assert.match(err.hint, /must not be a typo away from a built-in's name/);
        return true;
      },
    );
    // Far from every built-in's name: a user's processor.
    resolveProcessorSettings(counter, { processors: { counter: {}, 'slow-requests': {} } });
  });

  it('the sections of the processors that run are theirs, whatever their names', () => {
    const redMetric = { ...counter, name: 'red-metric' };
    const config = { processors: { counter: {}, 'red-metric': { step: 3 } } };
    assert.equal((resolveProcessorSettings(redMetric, config).config as { step: number }).step, 3);
    assert.throws(
      () => resolveProcessorSettings(counter, config),
      (err: Error & { code: string }) => err.code === ERRORS.CONFIG_SECTION_MISSPELLED.code,
    );
    // A chain in one process (meshpipe replay) runs both.
    resolveProcessorSettings(counter, config, ['counter', 'red-metric']);
  });

  const errors: Array<[string, Record<string, unknown>, string, RegExp]> = [
    [
      "a bad value of the processor's own key",
      { step: 0 },
      ERRORS.CONFIG_INVALID_VALUE.code,
      /"processors\.counter\.step": must be at least 1/,
    ],
    [
      'a misspelt key, with the closest one',
      { stepp: 2 },
      ERRORS.CONFIG_UNKNOWN_KEY.code,
      /"processors\.counter\.stepp"; did you mean "processors\.counter\.step"/,
    ],
    [
      'a bad runtime value',
      { runtime: { maxWaitMs: 'soon' } },
      ERRORS.CONFIG_INVALID_VALUE.code,
      /"processors\.counter\.runtime\.maxWaitMs": expected an integer/,
    ],
    [
      'a heartbeat slower than the session',
      { runtime: { sessionTimeoutMs: 6000, heartbeatIntervalMs: 6000 } },
      ERRORS.CONFIG_INVALID_VALUE.code,
      /processors\.counter\.runtime\.heartbeatIntervalMs/,
    ],
    [
      'a bad start policy',
      { startFrom: 'middle' },
      ERRORS.CONFIG_INVALID_VALUE.code,
      /"processors\.counter\.startFrom"/,
    ],
  ];
  for (const [what, section, code, message] of errors) {
    it(`rejects ${what}, naming the full key`, () => {
      assert.throws(
        () => settings(section),
        (err: Error & { code: string }) => {
          assert.equal(err.code, code);
          assert.match(err.message, message);
          return true;
        },
      );
    });
  }
});
