/**
 * HTTPS through the whole collector: nginx with a self-signed certificate in one pod, curl and Python's
 * `requests` in another, captured by the real uprobes on the system libssl, framed, redacted and produced
 * to a real Kafka. What arrives is the plaintext, redacted exactly as clear-text HTTP is, under the
 * connections' own identity; the ciphertext never becomes an HTTP event. A recording of the same traffic
 * goes through the span assembler; `meshpipe doctor` and /metrics report the TLS libraries. Needs root.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Collector } from '../../collectors/collector.ts';
import type { Span } from '../../schemas/types.ts';
import { type TestKafka, testKafka } from '../../testkit/kafka.ts';
import { createPodPair, type PodPair, podExec, requireRoot } from '../bpf/helpers/pods.ts';
import { makeCertificate, PYTHON, startTlsNginx, systemLibssl, type TlsFiles } from '../bpf/helpers/tls.ts';
import { jsonLines, runCli } from '../helpers/cli.ts';
import { type CliChild, startCli } from './helpers/cli-child.ts';
import { collectorConfig, RawTopicReader, shippedText, startCollector, testPort } from './helpers/harness.ts';

requireRoot();

const PORT = testPort();
const LIBSSL = systemLibssl();
const SECRETS = {
  authorization: `S3CR3Tauth${randomBytes(6).toString('hex')}`,
  cookie: `S3CR3Tcookie${randomBytes(6).toString('hex')}`,
  token: `S3CR3Ttoken${randomBytes(6).toString('hex')}`,
  apiKey: `S3CR3Tapikey${randomBytes(6).toString('hex')}`,
};

/** Any part of a secret in `bytes`: the prefix, or either end of its random part. */
function findSecrets(bytes: Buffer | string): string[] {
  const text = typeof bytes === 'string' ? bytes : bytes.toString('latin1');
  const found = Object.values(SECRETS).filter(
    (s) => text.includes(s.slice(-12, -4)) || text.includes(s.slice(-8)),
  );
  if (text.includes('S3CR3T')) found.push('the S3CR3T prefix');
  return found;
}

describe('TLS through the collector', () => {
  let pods: PodPair;
  let tls: TlsFiles;
  let k: TestKafka;
  let nginx: { stop(): Promise<void> } | undefined;
  let collector: Collector | undefined;
  let reader: RawTopicReader | undefined;
  let dir: string;
  let record: CliChild | undefined;
  let observe: CliChild | undefined;
  const recording = () => join(dir, 'tls.avro');
  const url = (path: string) => `https://${pods.b.addr}:${PORT}${path}`;

  before(async () => {
    pods = createPodPair('tlscol');
    tls = makeCertificate(pods.b.addr);
    k = await testKafka('tls');
    await k.createTopics();
    nginx = await startTlsNginx(pods.b, [PORT], tls);
    // collector.tls is on by default.
    collector = (
      await startCollector(
        collectorConfig({ brokers: k.brokers, prefix: k.prefix, collector: { ports: [PORT] } }),
      )
    ).collector;
    reader = await RawTopicReader.start(k.kafka, k.topic('raw'));
    dir = mkdtempSync(join(tmpdir(), 'meshpipe-tls-'));
    const config = join(dir, 'meshpipe.json');
    writeFileSync(config, JSON.stringify({ collector: { ports: [PORT] } }));
    const env = { ...k.env, MESHPIPE_CONFIG: config };
    record = startCli(['record', recording()], env);
    observe = startCli(['observe', '--json', '--filter', `port=${PORT}`], env);
    await Promise.all([record.ready, observe.ready]);

    await podExec(pods.a, 'curl', [
      '-sS',
      '--cacert',
      tls.ca,
      '-o',
      '/dev/null',
      '-o',
      '/dev/null',
      '-H',
      `Authorization: Bearer ${SECRETS.authorization}`,
      '-H',
      `X-Api-Key: ${SECRETS.apiKey}`,
      url(`/hello?token=${SECRETS.token}&page=2`),
      url('/big'),
    ]);
    const out = await podExec(pods.a, PYTHON, [
      '-c',
      `import requests; s = requests.Session(); s.cookies.set('session', '${SECRETS.cookie}'); ` +
        `print(s.get('${url('/')}', verify='${tls.ca}').status_code)`,
    ]);
    assert.equal(out.trim(), '200');
  });

  after(async () => {
    await record?.stop();
    await observe?.stop();
    await collector?.stop();
    await reader?.stop();
    await nginx?.stop();
    await k?.cleanup();
    pods?.remove();
    tls?.remove();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  /** Every event of the test's connections, once all three exchanges were read by their clients. */
  const allExchanges = () =>
    reader!.waitFor('three exchanges, read by the clients', (rs) => {
      const responses = rs.events(
        (e) =>
          e.connection.role === 'CLIENT' &&
          e.kind === 'DATA' &&
          e.segments.some((s) => s.kind === 'HEAD' && s.data?.toString('latin1').startsWith('HTTP/1.1 ')),
      );
      const closes = rs.events((e) => e.kind === 'CLOSE');
      return responses.length >= 3 && closes.length >= 4 && rs.events();
    });

  it('ships the plaintext, redacted exactly like clear-text HTTP: no secret leaves the node', async () => {
    const events = await allExchanges();
    const heads = shippedText(events);
    assert.match(heads, /^GET \/hello\?token=\[REDACTED\]&page=2 HTTP\/1\.1\r\n/m);
    assert.match(heads, /Authorization: \[REDACTED\]/);
    assert.match(heads, /X-Api-Key: \[REDACTED\]/);
    assert.match(heads, /Cookie: \[REDACTED\]/);
    assert.match(heads, /User-Agent: python-requests\//);
    assert.match(heads, /^HTTP\/1\.1 200 OK\r\nServer: nginx/m);
    for (const r of reader!.records) {
      assert.deepEqual(findSecrets(r.bytes), [], `a secret in record ${r.partition}@${r.offset}`);
    }
  });

  it("never turns the ciphertext into an HTTP event: the data is the uprobes', the identity the sockets'", async () => {
    const events = await allExchanges();
    const data = events.filter((e) => e.kind === 'DATA');
    assert.ok(data.length >= 8);
    for (const e of data) {
      assert.ok(e.syscall === 'SSL_READ' || e.syscall === 'SSL_WRITE', `a ${e.syscall} event is ciphertext`);
      assert.equal(e.protocol, 'HTTP1');
      for (const s of e.segments) assert.notEqual(s.kind, 'UNKNOWN', 'bytes the framer could not parse');
    }
    for (const e of events.filter((x) => x.kind === 'OPEN'))
      assert.ok(e.syscall === 'CONNECT' || e.syscall === 'ACCEPT4');
    // Both ends of each connection share the key (one partition): spans pair as for clear text.
    const keys = new Map<string, Set<string>>();
    for (const e of events)
      keys.set(e.connection.key, (keys.get(e.connection.key) ?? new Set()).add(e.connection.role));
    assert.equal(keys.size, 2, 'two connections: curl (keep-alive, two requests) and python');
    for (const roles of keys.values()) assert.deepEqual([...roles].sort(), ['CLIENT', 'SERVER']);
    // The 200 KB body arrived as lengths: every byte counted, none shipped.
    const bodies = data.filter((e) => e.connection.role === 'CLIENT' && e.direction === 'INGRESS');
    const bodyBytes = bodies.flatMap((e) => e.segments).filter((s) => s.kind === 'BODY');
    assert.ok(bodyBytes.reduce((n, s) => n + Number(s.length), 0) >= 200_000);
    assert.ok(bodyBytes.every((s) => s.data === null));
    assert.ok(collector!.counters.tlsEvents.egress >= 4 && collector!.counters.tlsEvents.ingress >= 4);
  });

  it('reports the libraries it probes and the TLS events on /metrics, and `doctor` finds and attaches them', async () => {
    const port = collector!.metricsPort!;
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    assert.match(
      metrics,
      new RegExp(`^meshpipe_collector_tls_binaries_attached\\{path="${LIBSSL}"\\} 1$`, 'm'),
    );
    assert.match(metrics, /^meshpipe_collector_tls_events_total\{direction="egress"\} [1-9]/m);

    const r = await runCli(['doctor', '--json'], {
      env: { ...k.env, MESHPIPE_COLLECTOR_METRICS_PORT: String(port) },
    });
    const tlsCheck = (
      JSON.parse(r.stdout) as { checks: Array<{ name: string; status: string; data?: unknown }> }
    ).checks.find((c) => c.name === 'tls');
    assert.ok(tlsCheck);
    const found = tlsCheck.data as { found: Array<{ path: string; library: string }>; attached: string[] };
    assert.ok(
      found.found.some((l) => l.path === LIBSSL && l.library === 'openssl'),
      JSON.stringify(found.found),
    );
    assert.ok(found.attached.includes(LIBSSL), JSON.stringify(found.attached));
  });

  it('`observe` pairs the TLS exchanges, and spans assemble from a recording of them', async () => {
    await allExchanges();
    await record!.stop();
    await observe!.stop();
    const rows = jsonLines(observe!.stdout()) as Array<{ method: string; target: string; status: number }>;
    assert.ok(
      rows.some(
        (x) => x.method === 'GET' && x.target === '/hello?token=[REDACTED]&page=2' && x.status === 200,
      ),
      observe!.stdout(),
    );
    assert.deepEqual(findSecrets(observe!.stdout()), []);

    const replay = await runCli([
      'replay',
      recording(),
      '--processor',
      'span-assembler',
      '--processor',
      'trace-linker',
      '--json',
    ]);
    assert.equal(replay.code, 0, replay.stderr);
    // The spans topic's records: one span, or a batch of them.
    const spans = (jsonLines(replay.stdout) as Array<{ topic: string; value: Span | { spans: Span[] } }>)
      .filter((l) => /\.spans\.v\d+$/.test(l.topic))
      .flatMap((l) => ('spans' in l.value ? l.value.spans : [l.value]));
    for (const kind of ['CLIENT', 'SERVER'] as const) {
      assert.deepEqual(
        spans
          .filter((x) => x.kind === kind)
          .map((x) => `${x.http.method} ${x.http.target} ${x.http.statusCode}`)
          .sort(),
        ['GET / 200', 'GET /big 200', 'GET /hello?token=[REDACTED]&page=2 200'],
        `${kind} spans`,
      );
    }
  });
});
