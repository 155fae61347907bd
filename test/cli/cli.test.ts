import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { COMMANDS } from '../../cli/commands/index.ts';
import { jsonLines, runCli } from '../helpers/cli.ts';

describe('meshpipe CLI', () => {
  it('prints the command list with --help', async () => {
    const r = await runCli(['--help']);
    assert.equal(r.code, 0);
    for (const name of Object.keys(COMMANDS)) assert.ok(r.stdout.includes(name), name);
  });

  it('every command has --help with a usage line', async () => {
    for (const name of Object.keys(COMMANDS)) {
      const r = await runCli([...name.split(' '), '--help']);
      assert.equal(r.code, 0, `${name} --help: ${r.stderr}`);
      assert.match(r.stdout, new RegExp(`^Usage: meshpipe ${name}`), name);
    }
  });

  it('commands that print data document --json', async () => {
    for (const [name, entry] of Object.entries(COMMANDS)) {
      const definition = await entry.load();
      if (definition.json === true) {
        const r = await runCli([...name.split(' '), '--help']);
        assert.match(r.stdout, /--json/, name);
      }
    }
  });

  it('an unknown command exits 64 with a code', async () => {
    const r = await runCli(['frobnicate']);
    assert.equal(r.code, 64);
    assert.match(r.stderr, /MESHPIPE_ERR_CLI_UNKNOWN_COMMAND/);
  });

  it('an unknown flag exits 64 and points at --help', async () => {
    const r = await runCli(['doctor', '--frobnicate']);
    assert.equal(r.code, 64);
    assert.match(r.stderr, /MESHPIPE_ERR_CLI_BAD_ARGUMENTS/);
    assert.match(r.stderr, /meshpipe doctor --help/);
  });

  it('a malformed broker flag exits 78 naming the key', async () => {
    const r = await runCli(['topics', '--brokers', 'localhost']);
    assert.equal(r.code, 78);
    assert.match(r.stderr, /kafka\.brokers\[0\]/);
    assert.match(r.stderr, /MESHPIPE_ERR_CONFIG_INVALID_VALUE/);
  });

  it('a bad environment value exits 78 naming the variable, also with --json', async () => {
    const r = await runCli(['doctor', '--json'], { env: { MESHPIPE_KAFKA_BROKERS: 'nope' } });
    assert.equal(r.code, 78);
    const [out] = jsonLines(r.stdout) as Array<{ error: { code: string; message: string } }>;
    assert.equal(out!.error.code, 'MESHPIPE_ERR_CONFIG_INVALID_VALUE');
    assert.match(out!.error.message, /MESHPIPE_KAFKA_BROKERS/);
  });

  it('a sinks.* or processors.* section named a typo of a built-in stops any command: exit 78, the key and the fix', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'meshpipe-sections-'));
    const file = (name: string, config: unknown) => {
      const path = join(dir, name);
      writeFileSync(path, JSON.stringify(config));
      return path;
    };
    // Before anything reaches Kafka (there is none at this address).
    const sink = await runCli(['topics', '--brokers', '127.0.0.1:1'], {
      env: { MESHPIPE_CONFIG: file('sink.json', { sinks: { otpl: { endpoint: 'http://c:4317' } } }) },
    });
    assert.equal(sink.code, 78, sink.stderr);
    assert.match(sink.stderr, /MESHPIPE_ERR_CONFIG_SECTION_MISSPELLED/);
    assert.match(sink.stderr, /"sinks\.otpl" is no built-in sink.*did you mean "sinks\.otlp"\?/);
    assert.match(sink.stderr, /fix: .*must not be a typo away from a built-in's name/);

    const processor = await runCli(['config', '--effective', '--json'], {
      env: { MESHPIPE_CONFIG: file('processor.json', { processors: { 'span-asembler': {} } }) },
    });
    assert.equal(processor.code, 78, processor.stderr);
    const [out] = jsonLines(processor.stdout) as Array<{ error: { code: string; message: string } }>;
    assert.equal(out!.error.code, 'MESHPIPE_ERR_CONFIG_SECTION_MISSPELLED');
    assert.match(out!.error.message, /"processors\.span-asembler".*"processors\.span-assembler"/);

    // Names far from every built-in's are a user's components.
    const theirs = await runCli(['config', '--effective'], {
      env: {
        MESHPIPE_CONFIG: file('theirs.json', {
          sinks: { clickhouse: { url: 'http://ch:8123' } },
          processors: { 'slow-requests': {} },
        }),
      },
    });
    assert.equal(theirs.code, 0, theirs.stderr);
  });

  it('config --effective prints no secret: webhook URLs, URL passwords, keys named like secrets', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'meshpipe-cli-'));
    const file = join(dir, 'meshpipe.json');
    const token = 'aZ3kP9qLm2Xv8RtY6wN1bC4d';
    writeFileSync(
      file,
      JSON.stringify({
        redis: { url: 'redis://default:S3CR3Tredis@redis:6379/0' },
        kafka: { saslMechanism: 'plain', saslUsername: 'meshpipe', saslPassword: 'S3CR3Tsasl' },
        sinks: {
          alerts: {
            receivers: [
              {
                name: 'ops',
                type: 'slack',
                url: `https://hooks.slack.com/services/T0123ABCD/B0456EFGH/${token}`,
                secret: 'S3CR3Tkey',
              },
            ],
          },
        },
      }),
    );
    for (const json of [[], ['--json']]) {
      const env = { MESHPIPE_CONFIG: file, MESHPIPE_REDIS_URL: '', MESHPIPE_KAFKA_SASL_PASSWORD: '' };
      const r = await runCli(['config', '--effective', ...json], { env });
      assert.equal(r.code, 0, r.stderr);
      for (const secret of [token, 'S3CR3T'])
        assert.ok(!r.stdout.includes(secret), `${secret} in ${r.stdout}`);
      assert.ok(r.stdout.includes('https://hooks.slack.com/services/…'));
      assert.ok(r.stdout.includes('redis://default:***@redis:6379/0'));
    }
  });

  it('config lists every key and --effective validates', async () => {
    const r = await runCli(['config', '--json']);
    assert.equal(r.code, 0);
    const rows = JSON.parse(r.stdout) as Array<{ key: string }>;
    assert.ok(rows.some((row) => row.key === 'kafka.brokers'));
    const e = await runCli(['config', '--effective', '--json'], { env: { MESHPIPE_KAFKA_BROKERS: 'k:1' } });
    assert.deepEqual(
      (JSON.parse(e.stdout) as { config: { kafka: { brokers: string[] } } }).config.kafka.brokers,
      ['k:1'],
    );
  });
});
