import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfig } from '../../../lib/config/load.ts';
import { isMeshpipeError } from '../../../lib/errors.ts';
import { channelSettings, type OtlpSinkConfig } from '../../../sinks/otlp/channel.ts';
import { otlpSinkSpec, parseEndpoint } from '../../../sinks/otlp/config.ts';

function parse(section: unknown, env: Record<string, string> = {}): OtlpSinkConfig {
  return otlpSinkSpec.parseWithEnv(section, 'sinks.otlp', env);
}

describe('sinks.otlp configuration', () => {
  it('is part of meshpipe configuration, with defaults and environment overrides', () => {
    const { config } = loadConfig({
      env: { MESHPIPE_OTLP_ENDPOINT: 'http://collector:4317', MESHPIPE_OTLP_COMPRESSION: 'none' },
      cwd: '/nonexistent',
    });
    assert.equal(config.sinks.otlp.endpoint, 'http://collector:4317');
    assert.equal(config.sinks.otlp.compression, 'none');
    assert.equal(config.sinks.otlp.batchSize, 512);
    assert.equal(config.sinks.otlp.retry.maxElapsedMs, 0);
  });

  it('parses MESHPIPE_OTLP_HEADERS like OTEL_EXPORTER_OTLP_HEADERS (URL-encoded values)', () => {
    const config = parse({}, { MESHPIPE_OTLP_HEADERS: 'Authorization=Bearer%20abc,x-scope-orgid=tenant-1' });
    assert.deepEqual(config.headers, { authorization: 'Bearer abc', 'x-scope-orgid': 'tenant-1' });
  });

  it('names the key of a bad value, without echoing header values', () => {
    const cases: Array<[string, unknown, RegExp]> = [
      ['endpoint with a path', { endpoint: 'http://collector:4317/v1/traces' }, /sinks\.otlp\.endpoint/],
      ['endpoint without a port', { endpoint: 'collector' }, /sinks\.otlp\.endpoint/],
      ['reserved header', { headers: { 'grpc-timeout': '1S' } }, /sinks\.otlp\.headers/],
      ['binary header', { headers: { 'token-bin': 'x' } }, /sinks\.otlp\.headers/],
      ['unknown key', { batchsize: 10 }, /sinks\.otlp\.batchsize/],
      ['bad compression', { compression: 'zstd' }, /sinks\.otlp\.compression/],
    ];
    for (const [what, section, key] of cases) {
      assert.throws(
        () => parse(section),
        (err) => isMeshpipeError(err) && key.test(err.message),
        what,
      );
    }
    assert.throws(
      () => parse({ headers: { authorization: 'Bearer s3cr3t\n' } }),
      (err) => isMeshpipeError(err, 'CONFIG_INVALID_VALUE') && !err.message.includes('s3cr3t'),
    );
  });

  it('accepts the endpoint forms of OTLP exporters', () => {
    assert.deepEqual(parseEndpoint('http://localhost:4317'), { address: 'localhost:4317', scheme: 'http' });
    assert.deepEqual(parseEndpoint('https://tempo.example.com:443/'), {
      address: 'tempo.example.com:443',
      scheme: 'https',
    });
    assert.deepEqual(parseEndpoint('[::1]:4317'), { address: '[::1]:4317', scheme: undefined });
  });
});

describe('channel settings', () => {
  it('http:// is plaintext, https:// and bare host:port are TLS unless insecure', () => {
    assert.equal(channelSettings(parse({ endpoint: 'http://c:4317' })).tls, false);
    assert.equal(channelSettings(parse({ endpoint: 'https://c:4317' })).tls, true);
    assert.equal(channelSettings(parse({ endpoint: 'c:4317' })).tls, true);
    assert.equal(channelSettings(parse({ endpoint: 'c:4317', insecure: true })).url, 'http://c:4317');
  });

  it('puts headers into the gRPC metadata', () => {
    const settings = channelSettings(parse({ endpoint: 'http://c:4317', headers: { 'X-Token': 'abc' } }));
    assert.deepEqual(settings.metadata.get('x-token'), ['abc']);
  });

  it('refuses contradictions and missing pieces with codes', () => {
    const cases: Array<[string, unknown, string]> = [
      ['no endpoint', {}, 'OTLP_ENDPOINT_MISSING'],
      [
        'TLS files on plaintext',
        { endpoint: 'http://c:4317', tls: { ca: '/x.pem' } },
        'CONFIG_INVALID_VALUE',
      ],
      ['cert without key', { endpoint: 'https://c:4317', tls: { cert: '/x.pem' } }, 'CONFIG_INVALID_VALUE'],
      [
        'unreadable CA',
        { endpoint: 'https://c:4317', tls: { ca: '/nonexistent/ca.pem' } },
        'CONFIG_INVALID_VALUE',
      ],
    ];
    for (const [what, section, code] of cases) {
      assert.throws(
        () => channelSettings(parse(section)),
        (err) => isMeshpipeError(err, code as 'CONFIG_INVALID_VALUE'),
        what,
      );
    }
  });
});
