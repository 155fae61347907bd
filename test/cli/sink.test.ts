/**
 * `meshpipe sink <path>`: a user's own sink, written against the public SDK in a directory outside the
 * repository, run exactly like a built-in one against a real Kafka. It POSTs every batch to a real HTTP
 * server that this test answers when it chooses, so the test can see that nothing is committed while
 * the exporter has not acknowledged, and that everything is once it has. Bad configuration of the
 * user's section is an error naming the key, and the flags the sink declares are in --help.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { PROJECT_ROOT } from '../../lib/paths.ts';
import type { TestKafka } from '../../testkit/kafka.ts';
import {
  allCommitted,
  committed,
  makeTraces,
  produceSpans,
  QUICK,
  sinkKafka,
} from '../../testkit/span-traffic.ts';
import { runCli, startCli } from '../helpers/cli.ts';
import { waitFor } from '../helpers/wait.ts';

/** The public SDK, as `import ... from 'meshpipe'` resolves it. */
const SDK = pathToFileURL(join(PROJECT_ROOT, 'sdk', 'index.ts')).href;

/**
 * The user's sink (test/sinks/runtime/fixtures/span-post.ts, also run by the sink failover test), as a
 * user outside the repository writes it: importing the SDK by its own path.
 */
const USER_SINK = readFileSync(
  new URL('../sinks/runtime/fixtures/span-post.ts', import.meta.url),
  'utf8',
).replace("'../../../../sdk/index.ts'", JSON.stringify(SDK));

/** A real HTTP receiver whose answers the test holds back until it releases them. */
class HeldReceiver {
  readonly spanIds = new Set<string>();
  readonly #held: ServerResponse[] = [];
  #holding = true;
  readonly #server: Server;

  private constructor(server: Server) {
    this.#server = server;
  }

  static async start(): Promise<HeldReceiver> {
    const server = createServer();
    const receiver = new HeldReceiver(server);
    server.on('request', (req, res) => void receiver.#onRequest(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return receiver;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}/spans`;
  }

  get held(): number {
    return this.#held.length;
  }

  async #onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let body = '';
    for await (const chunk of req) body += chunk;
    if (this.#holding) {
      this.#held.push(res);
      return;
    }
    for (const line of body.split('\n')) this.spanIds.add((JSON.parse(line) as { spanId: string }).spanId);
    res.writeHead(200).end();
  }

  /** Answers every request from now on; the held ones 503, so their batches are sent again. */
  release(): void {
    this.#holding = false;
    for (const res of this.#held.splice(0)) res.writeHead(503).end();
  }

  close(): Promise<void> {
    this.#server.closeAllConnections();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }
}

describe('meshpipe sink <path>: a user sink', { timeout: 180_000 }, () => {
  let k: TestKafka;
  let receiver: HeldReceiver;
  let dir: string;
  let module: string;
  let env: Record<string, string>;

  before(async () => {
    k = await sinkKafka('user-sink');
    receiver = await HeldReceiver.start();
    dir = mkdtempSync(join(tmpdir(), 'meshpipe-user-sink-'));
    module = join(dir, 'span-post.ts');
    writeFileSync(module, USER_SINK);
    const config = join(dir, 'meshpipe.json');
    writeFileSync(config, JSON.stringify({ sinks: { 'span-post': QUICK } }));
    env = { ...k.env, MESHPIPE_CONFIG: config };
  });
  after(async () => {
    await receiver.close();
    await k.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it('lists the flags it declares in --help', async () => {
    const r = await runCli(['sink', module, '--help'], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^Usage: meshpipe sink .*span-post\.ts/);
    assert.match(r.stdout, /--url <url>\s+Where batches are POSTed\./);
    assert.match(r.stdout, /sinks\.span-post/);
  });

  it('delivers real records end to end, committing offsets only after the exporter acknowledged', async () => {
    const spans = makeTraces(20, 7);
    const running = startCli(['sink', module, '--url', receiver.url, '--json'], env);
    try {
      await waitFor('the sink to join its group', () => running.lines.some((l) => l.state !== 'starting'), {
        timeoutMs: 60_000,
      });
      await produceSpans(k, spans);
      await waitFor('a batch to reach the receiver and wait for its answer', () => receiver.held > 0, {
        timeoutMs: 60_000,
      });
      const group = `${k.prefix}-sink-span-post`;
      const before = await committed(k, group);
      assert.ok(
        [...before.values()].every((o) => o === '-1'),
        `nothing is committed before the acknowledgement: ${JSON.stringify([...before])}`,
      );

      receiver.release();
      await waitFor('every span at the receiver', () => receiver.spanIds.size === spans.length, {
        timeoutMs: 60_000,
      });
      assert.deepEqual(
        [...receiver.spanIds].sort(),
        spans.map((s) => s.spanId).sort(),
        'exactly the spans produced',
      );
      await waitFor('every offset committed', () => allCommitted(k, group), { timeoutMs: 30_000 });
      assert.ok(
        running.lines.every((l) => l.sink === 'span-post'),
        'status lines name the sink',
      );
    } finally {
      running.child.kill('SIGTERM');
    }
    assert.equal(await running.exited, 0, running.stderr());
  });

  it('bad configuration of its section exits 78 naming the key and the fix', async () => {
    const config = join(dir, 'typo.json');
    writeFileSync(config, JSON.stringify({ sinks: { 'span-post': { ulr: receiver.url } } }));
    const typo = await runCli(['sink', module, '--json'], { env: { ...env, MESHPIPE_CONFIG: config } });
    assert.equal(typo.code, 78);
    assert.match(typo.stderr, /MESHPIPE_ERR_CONFIG_UNKNOWN_KEY/);
    assert.match(typo.stderr, /sinks\.span-post\.ulr.*did you mean "sinks\.span-post\.url"/);
    assert.match(typo.stdout, /"code":"MESHPIPE_ERR_CONFIG_UNKNOWN_KEY"/);

    writeFileSync(config, JSON.stringify({ sinks: { 'span-post': { batchSize: 0 } } }));
    const value = await runCli(['sink', module], { env: { ...env, MESHPIPE_CONFIG: config } });
    assert.equal(value.code, 78);
    assert.match(value.stderr, /MESHPIPE_ERR_CONFIG_INVALID_VALUE/);
    assert.match(value.stderr, /sinks\.span-post\.batchSize/);
    assert.match(value.stderr, /must be at least 1, got 0/);
  });

  it("a sink named a typo of a built-in's name runs with its section, which every other command refuses", async () => {
    const alert = join(dir, 'alert.ts');
    writeFileSync(alert, USER_SINK.replace("name: 'span-post'", "name: 'alert'"));
    const config = join(dir, 'alert.json');
    writeFileSync(config, JSON.stringify({ sinks: { alert: { ...QUICK, url: receiver.url } } }));
    // Past the configuration: it stops at the topics, none of which exist under a new prefix.
    const runs = await runCli(['sink', alert], {
      env: { ...env, MESHPIPE_CONFIG: config, MESHPIPE_TOPIC_PREFIX: `${k.prefix}-none` },
    });
    assert.equal(runs.code, 69, runs.stderr);
    assert.match(runs.stderr, /MESHPIPE_ERR_KAFKA_TOPIC_MISSING/);

    const other = await runCli(['config', '--effective'], { env: { ...env, MESHPIPE_CONFIG: config } });
    assert.equal(other.code, 78, other.stderr);
    assert.match(other.stderr, /MESHPIPE_ERR_CONFIG_SECTION_MISSPELLED/);
    assert.match(other.stderr, /"sinks\.alert".*did you mean "sinks\.alerts"/);
  });

  it('a module that is not a sink definition exits 70 naming the field; a missing one 64', async () => {
    const broken = join(dir, 'broken.ts');
    writeFileSync(broken, USER_SINK.replace("input: 'spans'", "input: 'nope'"));
    const r = await runCli(['sink', broken], { env });
    assert.equal(r.code, 70);
    assert.match(r.stderr, /MESHPIPE_ERR_SINK_INVALID_DEFINITION/);
    assert.match(r.stderr, /input "nope" is not a meshpipe topic/);

    const missing = await runCli(['sink', join(dir, 'absent.ts')], { env });
    assert.equal(missing.code, 64);
    assert.match(missing.stderr, /MESHPIPE_ERR_SINK_NOT_FOUND/);
  });
});
