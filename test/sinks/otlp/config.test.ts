import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { configReference } from '../../../cli/config-reference.ts';
import { loadConfig } from '../../../lib/config/load.ts';
import { isMeshpipeError } from '../../../lib/errors.ts';
import { otlpSinkSpec, parseEndpoint } from '../../../sinks/otlp/config.ts';
import { otlpSink } from '../../../sinks/otlp/sink.ts';
import { type OtlpSinkConfig, otlpTransport } from '../../../sinks/otlp/transport.ts';
import { resolveSinkConfig } from '../../../sinks/registry.ts';

function parse(section: unknown, env: Record<string, string> = {}): OtlpSinkConfig {
  return otlpSinkSpec.parseWithEnv(section, 'sinks.otlp', env);
}

describe('sinks.otlp configuration', () => {
  it('is part of meshpipe configuration, with defaults and environment overrides', () => {
    const env = { MESHPIPE_OTLP_ENDPOINT: 'http://collector:4317', MESHPIPE_OTLP_COMPRESSION: 'none' };
    const { config } = loadConfig({ env, cwd: '/nonexistent' });
    const otlp = resolveSinkConfig(otlpSink, config, { env });
    assert.equal(otlp.endpoint, 'http://collector:4317');
    assert.equal(otlp.compression, 'none');
    assert.equal(otlp.batchSize, 512);
    assert.equal(otlp.retry.maxElapsedMs, 0);
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

describe('transport', () => {
  it('gRPC: http:// is plaintext, https:// and bare host:port are TLS unless insecure', () => {
    const grpc = (section: unknown) => {
      const t = otlpTransport(parse(section));
      assert.equal(t.protocol, 'grpc');
      return t as Extract<typeof t, { protocol: 'grpc' }>;
    };
    assert.equal(grpc({ endpoint: 'http://c:4317' }).tls, false);
    assert.equal(grpc({ endpoint: 'https://c:4317' }).tls, true);
    assert.equal(grpc({ endpoint: 'c:4317' }).tls, true);
    assert.equal(grpc({ endpoint: 'c:4317', insecure: true }).tls, false);
    assert.equal(grpc({ endpoint: 'c:4317', insecure: true }).address, 'c:4317');
  });

  it('puts headers into the gRPC metadata, or the HTTP headers', () => {
    const grpc = otlpTransport(parse({ endpoint: 'http://c:4317', headers: { 'X-Token': 'abc' } }));
    assert.ok(grpc.protocol === 'grpc');
    assert.deepEqual(grpc.metadata.get('x-token'), ['abc']);
    const http = otlpTransport(
      parse({ endpoint: 'https://c', protocol: 'http/protobuf', headers: { 'X-Token': 'abc' } }),
    );
    assert.ok(http.protocol === 'http/protobuf');
    assert.deepEqual(http.headers, { 'x-token': 'abc' });
    assert.equal(http.url, 'https://c/v1/traces');
    assert.equal(http.tls, true);
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
        () => otlpTransport(parse(section)),
        (err) => isMeshpipeError(err, code as 'CONFIG_INVALID_VALUE'),
        what,
      );
    }
  });
});

describe('OpenTelemetry environment variables', () => {
  /** The section as `meshpipe sink otlp` resolves it: file, environment, then flags (`overrides`). */
  const load = (env: Record<string, string>, overrides?: Record<string, unknown>) =>
    resolveSinkConfig(otlpSink, loadConfig({ env, cwd: '/nonexistent' }).config, {
      env,
      ...(overrides === undefined ? {} : { overrides }),
    });

  it('map onto sinks.otlp: traces-specific variables win over generic ones, meshpipe’s own over both', () => {
    const otlp = load({
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://generic:4317',
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://traces:4317',
      OTEL_EXPORTER_OTLP_HEADERS: 'x-generic=1',
      OTEL_EXPORTER_OTLP_TRACES_HEADERS: 'Authorization=Bearer%20t0k,x-scope-orgid=acme',
      OTEL_EXPORTER_OTLP_COMPRESSION: 'none',
      OTEL_EXPORTER_OTLP_TIMEOUT: '2500',
      OTEL_EXPORTER_OTLP_TRACES_TIMEOUT: '3000',
      OTEL_EXPORTER_OTLP_CERTIFICATE: '/etc/otel/ca.pem',
      OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE: '/etc/otel/client.pem',
      OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY: '/etc/otel/client-key.pem',
      OTEL_EXPORTER_OTLP_INSECURE: 'true',
      OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=prod,k8s.cluster.name=eu%2D1',
    });
    assert.equal(otlp.endpoint, 'http://traces:4317');
    assert.equal(otlp.protocol, 'grpc');
    assert.deepEqual(otlp.headers, { authorization: 'Bearer t0k', 'x-scope-orgid': 'acme' });
    assert.equal(otlp.compression, 'none');
    assert.equal(otlp.timeoutMs, 3000);
    assert.deepEqual(otlp.tls, {
      ca: '/etc/otel/ca.pem',
      cert: '/etc/otel/client.pem',
      key: '/etc/otel/client-key.pem',
    });
    assert.equal(otlp.insecure, true);
    assert.deepEqual(otlp.resourceAttributes, {
      'deployment.environment.name': 'prod',
      'k8s.cluster.name': 'eu-1',
    });
    const own = load({
      MESHPIPE_OTLP_ENDPOINT: 'http://own:4317',
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://traces:4317',
    });
    assert.equal(own.endpoint, 'http://own:4317');
    // A flag wins over every variable.
    const flag = load(
      { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://traces:4317' },
      { endpoint: 'http://flag:4317' },
    );
    assert.equal(flag.endpoint, 'http://flag:4317');
  });

  it('OTLP/HTTP: the generic endpoint is a base URL (+ /v1/traces), the traces endpoint a full URL', () => {
    const base = { OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf' };
    assert.equal(
      load({ ...base, OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }).endpoint,
      'http://collector:4318/v1/traces',
    );
    assert.equal(
      load({ ...base, OTEL_EXPORTER_OTLP_ENDPOINT: 'https://gateway.example.com/otlp/' }).endpoint,
      'https://gateway.example.com/otlp/v1/traces',
    );
    assert.equal(
      load({ ...base, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://gateway.example.com/custom/traces' })
        .endpoint,
      'https://gateway.example.com/custom/traces',
    );
    // meshpipe's own key: a URL without a path gets the traces path; one with a path is used as it is.
    assert.equal(
      parse({ endpoint: 'http://c:4318', protocol: 'http/protobuf' }).endpoint,
      'http://c:4318/v1/traces',
    );
    assert.equal(
      parse({ endpoint: 'http://c:4318/x', protocol: 'http/protobuf' }).endpoint,
      'http://c:4318/x',
    );
    assert.equal(
      load({ OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/protobuf', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' })
        .protocol,
      'http/protobuf',
    );
  });

  it('names the variable of a bad value', () => {
    const cases: Array<[Record<string, string>, RegExp]> = [
      [
        { OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' },
        /sinks\.otlp\.protocol \(from OTEL_EXPORTER_OTLP_PROTOCOL\)/,
      ],
      [
        { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://c:4317/v1/traces' },
        /sinks\.otlp\.endpoint \(from OTEL_EXPORTER_OTLP_TRACES_ENDPOINT\)/,
      ],
      [{ OTEL_EXPORTER_OTLP_TIMEOUT: 'soon' }, /sinks\.otlp\.timeoutMs \(from OTEL_EXPORTER_OTLP_TIMEOUT\)/],
      [
        { OTEL_RESOURCE_ATTRIBUTES: 'novalue' },
        /sinks\.otlp\.resourceAttributes \(from OTEL_RESOURCE_ATTRIBUTES\)/,
      ],
      [
        { OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf', OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' },
        /sinks\.otlp\.endpoint/,
      ],
    ];
    for (const [env, key] of cases) {
      assert.throws(
        () => load(env),
        (err) => isMeshpipeError(err, 'CONFIG_INVALID_VALUE') && key.test(err.message),
        JSON.stringify(env),
      );
    }
  });

  it('`meshpipe config` lists them beside meshpipe’s own variables', async () => {
    const rows = await configReference();
    const endpoint = rows.find((r) => r.key === 'sinks.otlp.endpoint')!;
    assert.equal(endpoint.env, 'MESHPIPE_OTLP_ENDPOINT');
    assert.deepEqual(endpoint.envAliases, [
      'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT',
      'OTEL_EXPORTER_OTLP_ENDPOINT',
    ]);
    assert.deepEqual(rows.find((r) => r.key === 'sinks.otlp.resourceAttributes')!.envAliases, [
      'OTEL_RESOURCE_ATTRIBUTES',
    ]);
  });
});
