/**
 * Failover of a sink with static membership (KIP-345; lib/instance-slot.ts, runtime/group-instance.ts),
 * as processors have it (test/processors/runtime/host-failover.test.ts): a user's sink run from its
 * path (`meshpipe sink <path>`), SIGKILLed mid-stream and started again with the same instance id,
 * owns its partitions again at once — the broker sees the same member (`group.instance.id`) come back —
 * instead of after the dead member's session expired; every span reaches the receiver at least once; a
 * graceful stop leaves the group. Two processes given one id: the older stops (exit 69), naming the id.
 *
 * The session timeout is long (60 s; the default is 30 s), so that "at once" and "after the session
 * timeout" cannot be confused: the tests assert the broker's group state, and the failover time is
 * printed and only asserted to be below the session timeout (the machine is shared).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { TOPICS } from '../../../schemas/topics.ts';
import type { Span } from '../../../schemas/types.ts';
import type { TestKafka } from '../../../testkit/kafka.ts';
import { allCommitted, makeTraces, QUICK, sinkKafka, spanCodec } from '../../../testkit/span-traffic.ts';
import { type Running, startCli } from '../../helpers/cli.ts';
import { waitFor } from '../../helpers/wait.ts';

const SPAN_POST = fileURLToPath(new URL('./fixtures/span-post.ts', import.meta.url));
const SESSION_TIMEOUT_MS = 60_000;
const PARTITIONS = TOPICS.spans.partitions;

/** A real HTTP receiver that answers every batch 200 and counts each span id it received. */
class CountingReceiver {
  readonly received = new Map<string, number>();
  readonly #server: Server;

  private constructor(server: Server) {
    this.#server = server;
  }

  static async start(): Promise<CountingReceiver> {
    const server = createServer();
    const receiver = new CountingReceiver(server);
    server.on('request', (req, res) => void receiver.#onRequest(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return receiver;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}/spans`;
  }

  get duplicates(): number {
    return [...this.received.values()].reduce((sum, n) => sum + n - 1, 0);
  }

  async #onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let body = '';
    try {
      for await (const chunk of req) body += chunk;
    } catch {
      return; // the sink was killed mid-request: its batch was never acknowledged, so it comes again
    }
    for (const line of body.split('\n')) {
      const { spanId } = JSON.parse(line) as { spanId: string };
      this.received.set(spanId, (this.received.get(spanId) ?? 0) + 1);
    }
    res.writeHead(200).end();
  }

  close(): Promise<void> {
    this.#server.closeAllConnections();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }
}

/** Produces the spans a few at a time, with pauses, so that input keeps arriving through a failover. */
async function produceSlowly(k: TestKafka, spans: readonly Span[], chunk: number, pauseMs: number) {
  const producer = k.kafka.producer();
  await producer.connect();
  try {
    for (let i = 0; i < spans.length; i += chunk) {
      await producer.send({
        topic: k.topic('spans'),
        messages: spans.slice(i, i + chunk).map((s) => ({ key: s.traceId, value: spanCodec.encode(s) })),
      });
      await sleep(pauseMs);
    }
  } finally {
    await producer.disconnect();
  }
}

/** A failed wait or assertion kills what the test started, so the file always ends. */
function sinkRuns(k: () => TestKafka, env: () => Record<string, string>, receiver: () => CountingReceiver) {
  const runs: Running[] = [];
  return {
    start(instanceId: string): Running {
      const run = startCli(['sink', SPAN_POST, '--url', receiver().url, '--json'], {
        ...env(),
        ...k().env,
        MESHPIPE_INSTANCE_ID: instanceId,
      });
      runs.push(run);
      return run;
    },
    killAll(): void {
      for (const run of runs) if (run.child.exitCode === null) run.child.kill('SIGKILL');
    },
  };
}

/**
 * One case's Kafka, receiver and configuration (the sink's section), set up before its test and torn
 * down after it; `current()` in the test gives them.
 */
function sinkCase(name: string, section: object) {
  let k: TestKafka;
  let receiver: CountingReceiver;
  let dir: string;
  let env: Record<string, string>;
  const runs = sinkRuns(
    () => k,
    () => env,
    () => receiver,
  );
  before(async () => {
    k = await sinkKafka(name);
    receiver = await CountingReceiver.start();
    dir = mkdtempSync(join(tmpdir(), `meshpipe-${name}-`));
    const config = join(dir, 'meshpipe.json');
    writeFileSync(config, JSON.stringify({ sinks: { 'span-post': section } }));
    env = { MESHPIPE_CONFIG: config };
  });
  after(async () => {
    runs.killAll();
    await receiver.close();
    await k.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });
  return { current: () => ({ k, receiver, runs }) };
}

describe('sink host: failover with static membership', { timeout: 300_000 }, () => {
  const sink = sinkCase('sink-failover', {
    ...QUICK,
    runtime: { ...QUICK.runtime, sessionTimeoutMs: SESSION_TIMEOUT_MS },
  });

  it('SIGKILLed mid-stream, restarted with its instance id: its partitions back at once, every span delivered', async (t) => {
    const { k, receiver, runs } = sink.current();
    const group = `${k.prefix}-sink-span-post`;
    const instance = `${k.prefix}-a`;
    const member = async () => {
      const g = await k.admin.describeGroup(group).catch(() => undefined);
      return g?.state === 'Stable' && g.members.length === 1 && g.members[0]!.partitions.length === PARTITIONS
        ? g.members[0]!
        : undefined;
    };
    const first = runs.start(instance);
    const before = await waitFor('the first instance owns every partition', member, {
      timeoutMs: 60_000,
      intervalMs: 100,
    });
    assert.equal(before.groupInstanceId, instance, 'a static member, with the id it was given');

    // Spans keep arriving while the sink is killed and restarted.
    const spans = makeTraces(200, 3);
    const producing = produceSlowly(k, spans, 15, 100);
    await waitFor(
      'the first instance delivering and committing',
      async () => {
        const offsets = (await k.admin.committedOffsets(group, [k.topic('spans')])).get(k.topic('spans'));
        return [...(offsets?.values() ?? [])].reduce((sum, o) => sum + o, 0n) > 60n;
      },
      { timeoutMs: 60_000, intervalMs: 50 },
    );
    first.child.kill('SIGKILL');
    await first.exited;
    const receivedAtKill = receiver.received.size;
    assert.ok(receivedAtKill < spans.length, 'killed mid-stream, before every span was delivered');

    const restartedAt = performance.now();
    const second = runs.start(instance);
    // The broker hands the restarted member its partitions without waiting for the old one's session:
    // the same static member (a new member id for it), alone in the group, with every partition.
    const after = await waitFor(
      'the restarted instance owns every partition',
      async () => {
        const m = await member();
        return m !== undefined && m.memberId !== before.memberId && m;
      },
      { timeoutMs: SESSION_TIMEOUT_MS * 2, intervalMs: 50 },
    );
    const assignedMs = performance.now() - restartedAt;
    assert.equal(after.groupInstanceId, instance, 'the same static member');
    await waitFor('the restarted instance ready', () => second.lines.some((l) => l.state !== 'starting'), {
      timeoutMs: SESSION_TIMEOUT_MS * 2,
      intervalMs: 50,
    });
    const readyMs = performance.now() - restartedAt;
    // A generous functional bound: a dynamic member would have waited for the session to expire.
    assert.ok(
      readyMs < SESSION_TIMEOUT_MS,
      `ready ${Math.round(readyMs)} ms after the restart: it waited for the session timeout`,
    );

    await producing;
    await waitFor('every span at the receiver', () => spans.every((s) => receiver.received.has(s.spanId)), {
      timeoutMs: 120_000,
      intervalMs: 200,
    });
    await waitFor('every offset committed', () => allCommitted(k, group), { timeoutMs: 60_000 });
    const message = `sink failover: the restarted process (node start-up included) owned every partition ${Math.round(assignedMs)} ms and was ready ${Math.round(readyMs)} ms after the restart (session timeout ${SESSION_TIMEOUT_MS} ms); ${spans.length} spans delivered (${receivedAtKill} before the kill), ${receiver.duplicates} more than once (acknowledged, not yet committed at the kill)`;
    t.diagnostic(message);
    console.log(message);

    // A graceful stop leaves the group: the partitions are free at once, not after the session timeout.
    second.child.kill('SIGTERM');
    assert.equal(await second.exited, 0, second.stderr().slice(-2000));
    const left = await waitFor(
      'the stopped instance out of the group',
      async () => {
        const g = await k.admin.describeGroup(group);
        return g.members.length === 0 && g;
      },
      { timeoutMs: SESSION_TIMEOUT_MS / 2, intervalMs: 100 },
    );
    assert.equal(left.state, 'Empty');
  });
});

describe('sink host: two processes with one instance id', { timeout: 300_000 }, () => {
  const sink = sinkCase('sink-fenced', QUICK);

  // As for processors (lib/kafka/group-consumer.ts): fenced once, a static member joins again (it may
  // have fenced itself after the coordinator moved); fenced again soon, the id is another's.
  it('the older is fenced out and stops (exit 69) naming the id; the newer keeps delivering', async () => {
    const { k, receiver, runs } = sink.current();
    const group = `${k.prefix}-sink-span-post`;
    const instance = `${k.prefix}-shared`;
    const older = runs.start(instance);
    await waitFor('the older ready', () => older.lines.some((l) => l.state !== 'starting'), {
      timeoutMs: 60_000,
    });
    const newer = runs.start(instance);
    // Unref'd: the file would otherwise wait for the timer after the test passed.
    const code = await Promise.race([older.exited, sleep(120_000, 'still running', { ref: false })]);
    assert.equal(code, 69, `the older stops, unavailable: ${older.stderr().slice(-3000)}`);
    assert.match(older.stderr(), /joining again with a new consumer/, 'it joined again once first');
    assert.match(older.stderr(), /MESHPIPE_ERR_KAFKA_GROUP_INSTANCE_FENCED/);
    assert.match(older.stderr(), new RegExp(instance));
    assert.equal(newer.child.exitCode, null, `the newer runs on: ${newer.stderr().slice(-3000)}`);

    const spans = makeTraces(10, 5);
    await produceSlowly(k, spans, 30, 0);
    await waitFor(
      'the newer delivering every span',
      () => spans.every((s) => receiver.received.has(s.spanId)),
      {
        timeoutMs: 120_000,
        intervalMs: 200,
      },
    );
    const members = (await k.admin.describeGroup(group)).members;
    assert.deepEqual(
      members.map((m) => [m.groupInstanceId, m.partitions.length]),
      [[instance, PARTITIONS]],
      'one member holds the id and every partition',
    );
    newer.child.kill('SIGTERM');
    assert.equal(await newer.exited, 0, newer.stderr().slice(-2000));
  });
});
