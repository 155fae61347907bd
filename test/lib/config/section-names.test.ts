import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkSectionNames, misspelledBuiltin } from '../../../lib/config/section-names.ts';
import { ERRORS, isMeshpipeError } from '../../../lib/errors.ts';

const SINKS = ['otlp', 'prometheus', 'alerts'];
const PROCESSORS = ['span-assembler', 'trace-linker', 'red-metrics'];

describe('section names near a built-in', () => {
  it('a typo of a built-in name is one: a letter off, two swapped; two typos for 12 characters or more', () => {
    const typos: Array<[string, readonly string[], string]> = [
      ['otpl', SINKS, 'otlp'],
      ['otl', SINKS, 'otlp'],
      ['OTLP', SINKS, 'otlp'],
      ['alert', SINKS, 'alerts'],
      ['promethues', SINKS, 'prometheus'],
      ['span-asembler', PROCESSORS, 'span-assembler'],
      ['span-asembelr', PROCESSORS, 'span-assembler'],
      ['trace-linkr', PROCESSORS, 'trace-linker'],
      ['red-metric', PROCESSORS, 'red-metrics'],
    ];
    for (const [name, builtins, builtin] of typos)
      assert.equal(misspelledBuiltin(name, builtins), builtin, `${name} is a typo of ${builtin}`);
  });

  it('a built-in name, or one further away, is no typo', () => {
    const fine: Array<[string, readonly string[]]> = [
      ['otlp', SINKS],
      ['clickhouse', SINKS],
      ['http', SINKS], // two changes from otlp: a short name gets one
      ['otel', SINKS],
      ['alertmanager', SINKS],
      ['span-assembler', PROCESSORS],
      ['rpc-metrics', PROCESSORS], // two from red-metrics, 11 characters: one allowed
      ['slow-requests', PROCESSORS],
    ];
    for (const [name, builtins] of fine) assert.equal(misspelledBuiltin(name, builtins), undefined, name);
  });

  it('refuses the section with exit 78, naming the full key and the built-in meant', () => {
    assert.throws(
      () => checkSectionNames('sinks', { clickhouse: {}, otpl: {} }, SINKS),
      (err) => {
        assert.ok(isMeshpipeError(err, 'CONFIG_SECTION_MISSPELLED'));
        assert.equal(err.exitCode, 78);
        assert.match(err.message, /"sinks\.otpl" is no built-in sink.*did you mean "sinks\.otlp"\?/);
        assert.equal(err.hint, ERRORS.CONFIG_SECTION_MISSPELLED.hint);
        return true;
      },
    );
    assert.throws(
      () => checkSectionNames('processors', { 'span-asembler': {} }, PROCESSORS),
      (err) =>
        isMeshpipeError(err, 'CONFIG_SECTION_MISSPELLED') &&
        /"processors\.span-asembler" is no built-in processor.*"processors\.span-assembler"/.test(
          err.message,
        ),
    );
  });

  it('the section of a component the command runs is its own, whatever its name', () => {
    checkSectionNames('sinks', { alert: {}, otlp: {} }, SINKS, ['alert']);
    assert.throws(
      () => checkSectionNames('sinks', { alert: {} }, SINKS, ['otlp']),
      (err) => isMeshpipeError(err, 'CONFIG_SECTION_MISSPELLED'),
    );
  });
});
