import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfig } from '../../lib/config/load.ts';
import { s } from '../../lib/config/spec.ts';
import { isMeshpipeError } from '../../lib/errors.ts';
import { prometheusSink } from '../../sinks/prometheus/sink.ts';
import {
  BUILTIN_SINKS,
  loadBuiltinSinks,
  loadSink,
  resolveSinkConfig,
  sinkFlagOverrides,
  validateSinkDefinition,
} from '../../sinks/registry.ts';

describe('sink registry', () => {
  it('loads every built-in sink by name, each named as listed', async () => {
    const loaded = await loadBuiltinSinks();
    assert.deepEqual(
      loaded.map((l) => l.definition.name),
      [...BUILTIN_SINKS],
    );
    assert.ok(loaded.every((l) => l.builtin));
  });

  it('an unknown name is SINK_NOT_FOUND listing the built-in sinks', async () => {
    await assert.rejects(
      loadSink('clickhouse'),
      (err) => isMeshpipeError(err, 'SINK_NOT_FOUND') && /otlp, prometheus, alerts/.test(err.message),
    );
  });

  it('refuses a broken definition naming the field', () => {
    const definition = prometheusSink;
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ name: 'Bad_Name' }, /name must be kebab-case/],
      [{ name: 'new' }, /"new" is reserved/],
      [{ input: 'nope' }, /input "nope" is not a meshpipe topic/],
      [{ prepare: undefined }, /prepare must be a function/],
      [{ flags: { endpoint: { key: 'nowhere', doc: 'x' } } }, /flag "endpoint" sets "nowhere"/],
      [{ runInUp: true }, /runInUp must be a function/],
    ];
    for (const [change, why] of cases) {
      assert.throws(
        () => validateSinkDefinition({ ...definition, ...change }, 'mine.ts'),
        (err) => isMeshpipeError(err, 'SINK_INVALID_DEFINITION') && why.test(err.message),
        why.source,
      );
    }
    const { listen: _, ...withoutListen } = prometheusSink.config.fields;
    assert.throws(
      () =>
        validateSinkDefinition(
          { ...definition, config: s.object(withoutListen, { doc: 'no listen' }) },
          'mine.ts',
        ),
      (err) =>
        isMeshpipeError(err, 'SINK_INVALID_DEFINITION') &&
        /spread sinkHostFields\(\).*listen/.test(err.message),
    );
  });

  it('resolves a section: flags win over the environment, which wins over the file', () => {
    const { config } = loadConfig({
      cwd: '/nonexistent',
      env: {},
      overrides: { sinks: { prometheus: { listen: '127.0.0.1:1111', maxSeries: 500 } } },
    });
    const env = { MESHPIPE_PROMETHEUS_LISTEN: '127.0.0.1:2222' };
    assert.equal(resolveSinkConfig(prometheusSink, config, { env }).listen, '127.0.0.1:2222');
    const flagged = resolveSinkConfig(prometheusSink, config, {
      env,
      overrides: { listen: '127.0.0.1:3333' },
    });
    assert.equal(flagged.listen, '127.0.0.1:3333');
    assert.equal(flagged.maxSeries, 500);
    assert.equal(flagged.batchSize, 2048, 'the sink’s own default for a host key');
  });

  it('names the full key of a bad value', () => {
    const { config } = loadConfig({
      cwd: '/nonexistent',
      env: {},
      overrides: { sinks: { prometheus: { maxSeries: 1 } } },
    });
    assert.throws(
      () => resolveSinkConfig(prometheusSink, config, { env: {} }),
      (err) =>
        isMeshpipeError(err, 'CONFIG_INVALID_VALUE') && /sinks\.prometheus\.maxSeries/.test(err.message),
    );
  });

  it('refuses a section named a typo of a built-in sink, naming the key and the sink meant', () => {
    const sinks = (names: string[]) => ({ sinks: Object.fromEntries(names.map((n) => [n, {}])) });
    assert.throws(
      () => resolveSinkConfig(prometheusSink, sinks(['prometheus', 'otpl']), { env: {} }),
      (err) =>
        isMeshpipeError(err, 'CONFIG_SECTION_MISSPELLED') &&
        err.exitCode === 78 &&
        /"sinks\.otpl".*did you mean "sinks\.otlp"/.test(err.message),
    );
    // A user's sinks far from every built-in's name are theirs.
    resolveSinkConfig(prometheusSink, sinks(['clickhouse', 'http', 'span-post']), { env: {} });
  });

  it("a sink's own section may be a typo of a built-in's name: only the other sinks' resolution refuses it", () => {
    const alert = validateSinkDefinition({ ...prometheusSink, name: 'alert' }, 'alert.ts');
    const config = { sinks: { alert: { batchSize: 5 } } };
    assert.equal(resolveSinkConfig(alert, config, { env: {} }).batchSize, 5);
    assert.throws(
      () => resolveSinkConfig(prometheusSink, config, { env: {} }),
      (err) => isMeshpipeError(err, 'CONFIG_SECTION_MISSPELLED') && /"sinks\.alerts"/.test(err.message),
    );
  });

  it('maps declared flags onto their (dotted) keys', async () => {
    const { definition } = await loadSink('otlp');
    assert.deepEqual(sinkFlagOverrides(definition, { endpoint: 'http://c:4317', json: true }), {
      endpoint: 'http://c:4317',
    });
    const nested = { ...definition, flags: { ca: { key: 'tls.ca', doc: 'CA' } } };
    assert.deepEqual(sinkFlagOverrides(nested, { ca: '/ca.pem' }), { tls: { ca: '/ca.pem' } });
  });
});
