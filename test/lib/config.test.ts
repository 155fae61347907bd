import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadConfig } from '../../lib/config/load.ts';
import { checkBroker } from '../../lib/config/meshpipe-config.ts';
import { ERRORS } from '../../lib/errors.ts';

function fileWith(content: unknown): string {
  const dir = mkdtempSync(join(tmpdir(), 'meshpipe-config-'));
  const file = join(dir, 'meshpipe.json');
  writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
  return file;
}

describe('configuration', () => {
  it('has defaults for everything', () => {
    const { config } = loadConfig({ env: {}, cwd: tmpdir() });
    assert.deepEqual(config.kafka.brokers, []);
    assert.equal(config.kafka.topicPrefix, 'meshpipe');
    assert.equal(config.log.level, 'info');
  });

  it('rejects an unknown key, naming it and suggesting the closest', () => {
    const file = fileWith({ kafka: { brokerz: ['a:1'] } });
    assert.throws(
      () => loadConfig({ file, env: {} }),
      (err: Error & { code: string }) => {
        assert.equal(err.code, ERRORS.CONFIG_UNKNOWN_KEY.code);
        assert.match(err.message, /"kafka\.brokerz"/);
        assert.match(err.message, /did you mean "kafka\.brokers"/);
        return true;
      },
    );
  });

  it('MESHPIPE_CONFIG_DEFAULTS lies under the file: the file, the environment and flags win', () => {
    const defaults = JSON.stringify({
      kafka: { topicPrefix: 'demo', clientId: 'from-defaults' },
      processors: { 'anomaly-detector': { windowMs: 10_000, warmupWindows: 6 } },
    });
    const file = fileWith({
      kafka: { clientId: 'from-file' },
      processors: { 'anomaly-detector': { windowMs: 60_000 } },
    });
    const { config } = loadConfig({
      file,
      env: { MESHPIPE_CONFIG_DEFAULTS: defaults, MESHPIPE_LOG_LEVEL: 'warn' },
    });
    assert.equal(config.kafka.topicPrefix, 'demo');
    assert.equal(config.kafka.clientId, 'from-file');
    assert.deepEqual(config.processors['anomaly-detector'], { windowMs: 60_000, warmupWindows: 6 });
    const flagged = loadConfig({
      file,
      env: { MESHPIPE_CONFIG_DEFAULTS: defaults, MESHPIPE_TOPIC_PREFIX: 'env' },
      overrides: { kafka: { clientId: 'flag' } },
    }).config;
    assert.deepEqual([flagged.kafka.topicPrefix, flagged.kafka.clientId], ['env', 'flag']);
    for (const bad of ['{not json', '[1]'])
      assert.throws(
        () => loadConfig({ env: { MESHPIPE_CONFIG_DEFAULTS: bad }, cwd: tmpdir() }),
        (err: Error & { code: string }) => {
          assert.equal(err.code, ERRORS.CONFIG_INVALID_VALUE.code);
          assert.match(err.message, /MESHPIPE_CONFIG_DEFAULTS/);
          return true;
        },
      );
    assert.throws(
      () => loadConfig({ env: { MESHPIPE_CONFIG_DEFAULTS: '{"kafka":{"brokerz":[]}}' }, cwd: tmpdir() }),
      {
        code: ERRORS.CONFIG_UNKNOWN_KEY.code,
      },
    );
  });

  it('rejects an unknown top-level section', () => {
    assert.throws(() => loadConfig({ file: fileWith({ kafak: {} }), env: {} }), {
      code: ERRORS.CONFIG_UNKNOWN_KEY.code,
    });
  });

  it('rejects a malformed broker list from the file, naming the key', () => {
    const file = fileWith({ kafka: { brokers: ['localhost'] } });
    assert.throws(
      () => loadConfig({ file, env: {} }),
      (err: Error & { code: string }) => {
        assert.equal(err.code, ERRORS.CONFIG_INVALID_VALUE.code);
        assert.match(err.message, /kafka\.brokers\[0\]/);
        assert.match(err.message, /host:port/);
        return true;
      },
    );
  });

  it('rejects a malformed broker list from the environment, naming the variable', () => {
    assert.throws(
      () => loadConfig({ env: { MESHPIPE_KAFKA_BROKERS: 'a:9092,b:notaport' }, cwd: tmpdir() }),
      (err: Error) => {
        assert.match(err.message, /kafka\.brokers \(from MESHPIPE_KAFKA_BROKERS\)\[1\]/);
        return true;
      },
    );
  });

  it('checks broker syntax including IPv6 and port range', () => {
    assert.equal(checkBroker('127.0.0.1:9092'), undefined);
    assert.equal(checkBroker('[::1]:9092'), undefined);
    assert.equal(checkBroker('kafka-0.kafka.svc:9093'), undefined);
    assert.match(checkBroker('host:70000') ?? '', /out of range/);
    assert.match(checkBroker('host') ?? '', /host:port/);
  });

  it('applies precedence: flags > environment > file > defaults', () => {
    const file = fileWith({
      kafka: { brokers: ['file:1'], topicPrefix: 'fromfile' },
      log: { level: 'debug' },
    });
    const env = { MESHPIPE_KAFKA_BROKERS: 'env:2', MESHPIPE_LOG_LEVEL: 'warn' };
    const { config } = loadConfig({ file, env, overrides: { kafka: { brokers: ['flag:3'] } } });
    assert.deepEqual(config.kafka.brokers, ['flag:3']);
    assert.equal(config.log.level, 'warn');
    assert.equal(config.kafka.topicPrefix, 'fromfile');
  });

  it('reports a file that is not JSON, and one that cannot be read', () => {
    assert.throws(() => loadConfig({ file: fileWith('{ nope'), env: {} }), {
      code: ERRORS.CONFIG_FILE_INVALID_JSON.code,
    });
    assert.throws(() => loadConfig({ file: '/nonexistent/meshpipe.json', env: {} }), {
      code: ERRORS.CONFIG_FILE_UNREADABLE.code,
    });
  });

  it('rejects values of the wrong type and out of range', () => {
    assert.throws(
      () => loadConfig({ file: fileWith({ kafka: { ssl: 'yes' } }), env: {} }),
      /kafka\.ssl.*true or false/,
    );
    assert.throws(
      () => loadConfig({ file: fileWith({ stack: { kafkaPort: 0 } }), env: {} }),
      /stack\.kafkaPort.*at least 1/,
    );
    assert.throws(
      () => loadConfig({ file: fileWith({ log: { level: 'loud' } }), env: {} }),
      /log\.level.*one of/,
    );
  });
});

describe('redactConfig (meshpipe config --effective)', () => {
  it('masks passwords, secrets, header values and URL passwords, and nothing else', async () => {
    const { redactConfig, MASK } = await import('../../lib/config/redact-config.ts');
    const out = redactConfig({
      kafka: { saslPassword: 'hunter2', saslUsername: 'meshpipe', brokers: ['k:9092'] },
      redis: { url: 'redis://default:s3cret@redis:6379/0' },
      sinks: {
        otlp: { headers: { authorization: 'Bearer abc' }, endpoint: 'https://tempo:4317' },
        alerts: {
          receivers: [
            { name: 'ops', secret: 'k3y', secretEnv: 'OPS_SECRET', url: 'https://hooks.example/x' },
          ],
        },
      },
    }) as Record<string, Record<string, unknown>>;
    const text = JSON.stringify(out);
    for (const secret of ['hunter2', 's3cret', 'Bearer abc', 'k3y'])
      assert.ok(!text.includes(secret), secret);
    assert.ok(text.includes(MASK));
    for (const kept of [
      'meshpipe',
      'k:9092',
      'redis://default:***@redis:6379/0',
      'OPS_SECRET',
      'https://tempo:4317',
    ]) {
      assert.ok(text.includes(kept), kept);
    }
  });
});
