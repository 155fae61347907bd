/**
 * Secrets never leave the node. Real requests carry known secrets in every sensitive header, in the
 * configured extra header, in query parameters (built-in and configured), in userinfo, in path segments
 * and values that look like secrets (e-mail, JWT, hex and random tokens), in matrix parameters, in a
 * Referer, in a redirect's Location, in a head split over several writes, and across the kernel's copy
 * budget; then every byte of every record on the raw
 * topic is searched for them — and so are a `meshpipe record` file and `meshpipe observe --json`
 * output captured at the same time. Needs root.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Collector } from '../../collectors/collector.ts';
import { looksSecretText } from '../../protocols/http1/secret-shapes.ts';
import { codecFor } from '../../schemas/codec.ts';
import type { L7RawEvent } from '../../schemas/types.ts';
import { readRecording } from '../../sdk/recording.ts';
import { type TestKafka, testKafka } from '../../testkit/kafka.ts';
import { createPodPair, type PodPair, podExec, requireRoot, stopProcess } from '../bpf/helpers/pods.ts';
import { type CliChild, startCli } from './helpers/cli-child.ts';
import {
  collectorConfig,
  FIXTURES,
  RawTopicReader,
  shippedText,
  startCollector,
  startHttpServer,
  testPort,
} from './helpers/harness.ts';

requireRoot();

const PORT = testPort();
const REDACT = {
  headers: ['X-Custom-Secret', 'x-*-session'],
  queryParams: ['sig'],
  pathSegments: ['sk_live_*'],
};

/** A secret no traffic could contain by chance. */
function secret(name: string): string {
  return `S3CR3T${name}${randomBytes(6).toString('hex')}`;
}

const SECRETS = {
  authorization: secret('auth'),
  proxyAuthorization: secret('proxy'),
  cookie: secret('cookie'),
  apiKey: secret('apikey'),
  authToken: secret('authtoken'),
  custom: secret('custom'),
  token: secret('token'),
  apiKeyParam: secret('apikeyparam'),
  accessToken: secret('access'),
  password: secret('password'),
  sig: secret('sig'),
  split: secret('split'),
  userinfo: secret('userinfo'),
  mixedCase: secret('mixed'),
  straddling: secret('straddle'),
  beyondCap: secret('beyond'),
  // Issue 14: by shape in paths and values, the new default names and patterns, URL-valued fields.
  email: secret('email'),
  emailParam: secret('emailparam'),
  jwt: secret('jwt'),
  jsession: secret('jsession'),
  code: secret('code'),
  clientSecret: secret('clientsecret'),
  refreshToken: secret('refresh'),
  amzSignature: secret('amzsig'),
  websocket: secret('websocket'),
  vault: secret('vault'),
  myToken: secret('mytoken'),
  shopSession: secret('shopsession'),
  refererUser: secret('refuser'),
  refererParam: secret('refparam'),
  liveKey: secret('livekey'),
  location: secret('location'),
};

/** Secrets that look like secrets by their shape alone (no S3CR3T marker can be part of them). */
const HEX_SECRET = randomBytes(32).toString('hex');
const TOKEN_SECRET = (() => {
  for (;;) {
    const t = randomBytes(18).toString('base64url');
    if (looksSecretText(t)) return t;
  }
})();

/**
 * The secrets found in `bytes`, whole or in part: the S3CR3T prefix, or 8 hex digits of either end of a
 * secret's random part (a cut value must not leak its beginning or its end either).
 */
function findSecrets(bytes: Buffer | string): string[] {
  const text = typeof bytes === 'string' ? bytes : bytes.toString('latin1');
  const found = Object.values(SECRETS).filter((s) => {
    const hex = s.slice(-12);
    return text.includes(hex.slice(0, 8)) || text.includes(hex.slice(-8));
  });
  if (text.includes('S3CR3T')) found.push('the S3CR3T prefix');
  for (const shaped of [HEX_SECRET, TOKEN_SECRET])
    if (text.includes(shaped.slice(0, 10)) || text.includes(shaped.slice(-10))) found.push(shaped);
  return found;
}

describe('redaction: no secret leaves the node', () => {
  let pods: PodPair;
  let k: TestKafka;
  let server: ChildProcess | undefined;
  let collector: Collector | undefined;
  let reader: RawTopicReader | undefined;
  let dir: string;
  let record: CliChild | undefined;
  let observe: CliChild | undefined;
  const recording = () => join(dir, 'traffic.avro');

  before(async () => {
    pods = createPodPair('redact');
    k = await testKafka('redaction');
    await k.createTopics();
    server = await startHttpServer(pods.b, [`0.0.0.0:${PORT}`]);
    collector = (
      await startCollector(
        collectorConfig({
          brokers: k.brokers,
          prefix: k.prefix,
          collector: { ports: [PORT], redact: REDACT },
        }),
      )
    ).collector;
    reader = await RawTopicReader.start(k.kafka, k.topic('raw'));
    // `record` and `observe` capture the same traffic with the same configuration.
    dir = mkdtempSync(join(tmpdir(), 'meshpipe-redaction-'));
    const config = join(dir, 'meshpipe.json');
    writeFileSync(config, JSON.stringify({ collector: { ports: [PORT], redact: REDACT } }));
    const env = { ...k.env, MESHPIPE_CONFIG: config };
    record = startCli(['record', recording()], env);
    observe = startCli(['observe', '--json', '--filter', `port=${PORT}`], env);
    await Promise.all([record.ready, observe.ready]);
  });

  after(async () => {
    await record?.stop();
    await observe?.stop();
    await collector?.stop();
    await reader?.stop();
    await stopProcess(server);
    await k?.cleanup();
    pods?.remove();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('redacts every sensitive header, query parameter and userinfo before producing', async () => {
    const url =
      `http://${pods.b.addr}:${PORT}/login?token=${SECRETS.token}` +
      `&api_key=${SECRETS.apiKeyParam}&access_token=${SECRETS.accessToken}&password=${SECRETS.password}` +
      `&sig=${SECRETS.sig}&page=2`;
    await podExec(pods.a, 'curl', [
      '-sS',
      '-o',
      '/dev/null',
      '-H',
      `Authorization: Bearer ${SECRETS.authorization}`,
      '-H',
      `Proxy-Authorization: Basic ${SECRETS.proxyAuthorization}`,
      '-H',
      `Cookie: theme=dark; session=${SECRETS.cookie}`,
      '-H',
      `X-Api-Key: ${SECRETS.apiKey}`,
      '-H',
      `X-Auth-Token: ${SECRETS.authToken}`,
      '-H',
      `X-Custom-Secret: ${SECRETS.custom}`,
      url,
    ]);
    // Secrets by shape in the path and in values, the new default names, patterns (default and
    // configured), matrix parameters, and a Referer; then a redirect whose Location carries a token.
    await podExec(pods.a, 'curl', [
      '-sS',
      '-o',
      '/dev/null',
      '-H',
      `Sec-WebSocket-Protocol: base64url.bearer.authorization.k8s.io.${SECRETS.websocket}`,
      '-H',
      `X-Vault-Token: ${SECRETS.vault}`,
      '-H',
      `X-My-Token: ${SECRETS.myToken}`,
      '-H',
      `X-Shop-Session: ${SECRETS.shopSession}`,
      '-H',
      `Referer: https://u:${SECRETS.refererUser}@shop.test/reset/${TOKEN_SECRET}?password=${SECRETS.refererParam}&page=2`,
      `http://${pods.b.addr}:${PORT}/users/${SECRETS.email}@mail.test/orders;jsessionid=${SECRETS.jsession}` +
        `/blobs/${HEX_SECRET}/auth/eyJhbGciOiJIUzI1NiJ9.${SECRETS.jwt}.c2ln/charges/sk_live_${SECRETS.liveKey}` +
        `?code=${SECRETS.code}&client_secret=${SECRETS.clientSecret}&refresh_token=${SECRETS.refreshToken}` +
        `&X-Amz-Signature=${SECRETS.amzSignature}&next=${SECRETS.emailParam}@mail.test&page=2`,
    ]);
    await podExec(pods.a, 'curl', [
      '-sS',
      '-o',
      '/dev/null',
      `http://${pods.b.addr}:${PORT}/redirect?password=${SECRETS.location}`,
    ]);
    // A head split over writes, a secret alone in the middle write.
    const raw = async (writes: string[]) =>
      podExec(pods.a, process.execPath, [
        `${FIXTURES}raw-client.ts`,
        pods.b.addr,
        String(PORT),
        JSON.stringify({ writes, gapMs: 30 }),
      ]);
    await raw(['GET /hello HTTP/1.1\r\nHost: fixture\r\nAuthorization: Bearer ', SECRETS.split, '\r\n\r\n']);
    await raw([`GET http://user:${SECRETS.userinfo}@fixture/hello HTTP/1.1\r\nHost: fixture\r\n\r\n`]);
    await raw([`GET /hello HTTP/1.1\r\nHost: fixture\r\naUtHoRiZaTiOn: ${SECRETS.mixedCase}\r\n\r\n`]);
    // The kernel copies 4096 bytes of a head: one secret straddles that boundary, one lies beyond it.
    const start = 'GET /hello HTTP/1.1\r\nHost: fixture\r\nX-Pad: ';
    const line = `\r\nAuthorization: Bearer ${SECRETS.straddling}`;
    const pad = 'p'.repeat(4096 - start.length - line.length + 10);
    await raw([`${start}${pad}${line}\r\nX-Api-Key: ${SECRETS.beyondCap}\r\n\r\n`]);

    // Everything arrived: 5 requests, each answered, seen on both ends (the server closes; the raw
    // clients exit without close(), which the kernel reports as no CLOSE at all).
    const events = await reader!.waitFor('all seven exchanges on both ends', (rs) => {
      const serverCloses = rs.events((e) => e.kind === 'CLOSE' && e.connection.role === 'SERVER').length;
      const answersRead = rs.events(
        (e) =>
          e.connection.role === 'CLIENT' &&
          e.direction === 'INGRESS' &&
          e.segments.some((x) => x.kind === 'HEAD' && x.data?.length),
      ).length;
      return serverCloses >= 7 && answersRead >= 7 && rs.events();
    });
    const heads = shippedText(events);
    assert.match(heads, /Authorization: \[REDACTED\]/);
    assert.match(heads, /Set-Cookie: \[REDACTED\]/i);
    assert.match(heads, /X-Custom-Secret: \[REDACTED\]/);
    assert.match(heads, /sig=\[REDACTED\]&page=2/);
    assert.match(
      heads,
      /\/users\/\[REDACTED\]\/orders;jsessionid=\[REDACTED\]\/blobs\/\[REDACTED\]\/auth\/\[REDACTED\]\/charges\/\[REDACTED\]\?code=\[REDACTED\]/,
    );
    assert.match(
      heads,
      /Referer: https:\/\/\[REDACTED\]@shop\.test\/reset\/\[REDACTED\]\?password=\[REDACTED\]&page=2/,
    );
    assert.match(heads, /Location: https:\/\/app\.test\/cb#access_token=\[REDACTED\]&state=1/i);
    assert.match(heads, /Sec-WebSocket-Protocol: \[REDACTED\]/);
    assert.match(heads, /X-Shop-Session: \[REDACTED\]/);
    assert.ok(collector!.counters.redactions >= 34, `${collector!.counters.redactions} redactions`);

    for (const r of reader!.records) {
      assert.deepEqual(findSecrets(r.bytes), [], `a secret in record ${r.partition}@${r.offset}`);
      assert.deepEqual(findSecrets(r.key), []);
    }
  });

  it('writes no secret to a recording, and `observe --json` prints none', async () => {
    await collector!.stop();
    // observe and record saw the same traffic (they captured the whole time).
    await record!.stop();
    await observe!.stop();
    const observed = observe!.stdout();
    const rows = observed
      .trim()
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as { target: string | null; status: number | null; side: string });
    assert.ok(rows.length >= 14, `${rows.length} exchanges observed`);
    assert.ok(rows.some((r) => r.target?.includes('sig=[REDACTED]&page=2')));
    assert.deepEqual(findSecrets(observed), []);

    const codec = codecFor<L7RawEvent>('l7-raw-event');
    const events: L7RawEvent[] = [];
    for await (const e of readRecording(recording())) events.push(e);
    assert.ok(events.filter((e) => e.kind === 'DATA').length >= 20, `${events.length} recorded events`);
    assert.match(shippedText(events), /Authorization: \[REDACTED\]/);
    for (const e of events) assert.deepEqual(findSecrets(codec.encode(e)), []);
    assert.deepEqual(findSecrets(readFileSync(recording())), []);
  });
});
