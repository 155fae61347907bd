/**
 * Losses and truncations, counted apart on the real path: real HTTP between two pods, captured by the
 * real eBPF programs, turned into raw events by in-process Collectors and produced to a real Kafka.
 *
 *  - Node's writev of a response (the head and 19 body pieces: 21 iovecs) is captured whole; nothing is
 *    counted, and the collector stays ok.
 *  - A head longer than the copy budget is a truncation: delivered shortened, counted in `truncated`,
 *    never in `dropped`, and the collector stays ok.
 *  - Events refused by a full buffer are a loss: counted in `dropped`, and the collector turns degraded
 *    (yellow on `meshpipe up`'s status line).
 * Needs root.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { componentPart } from '../../cli/status-line.ts';
import { DROP_STAGE, droppedTotal, truncatedTotal } from '../../collectors/capture-counters.ts';
import type { Collector } from '../../collectors/collector.ts';
import type { L7RawEvent } from '../../schemas/types.ts';
import { type TestKafka, testKafka } from '../../testkit/kafka.ts';
import {
  createPodPair,
  type Pod,
  type PodPair,
  podExec,
  requireRoot,
  startServer,
  stopProcess,
} from '../bpf/helpers/pods.ts';
import { waitFor } from '../helpers/wait.ts';
import { collectorConfig, RawTopicReader, sideOf, startCollector, testPort } from './helpers/harness.ts';

requireRoot();

const PORT = testPort();
/** Served by the same fixture, traced by the second collector only (the one with a tiny buffer). */
const LOSSY_PORT = PORT + 1;
const CAP = 4096;
const YELLOW = '\x1b[33m';

async function curl(pod: Pod, urls: string[]): Promise<{ headerSize: number; port: number }> {
  const out = await podExec(pod, 'curl', [
    '-sS',
    '-o',
    '/dev/null',
    '-w',
    '%{size_header} %{local_port}\n',
    ...urls,
  ]);
  const [headerSize, port] = out.trim().split('\n')[0]!.split(' ').map(Number) as [number, number];
  return { headerSize, port };
}

const responses = (events: L7RawEvent[]) =>
  events.filter((e) => e.kind === 'DATA' && e.direction === 'EGRESS');

describe('collector: truncations are counted apart from losses', () => {
  let pods: PodPair;
  let k: TestKafka;
  let server: ChildProcess | undefined;
  let collector: Collector | undefined;
  let lossy: Collector | undefined;
  let reader: RawTopicReader | undefined;

  before(async () => {
    pods = createPodPair('ctr');
    k = await testKafka('capture-counters');
    await k.createTopics();
    server = await startServer(pods.b, [`0.0.0.0:${PORT}`, `0.0.0.0:${LOSSY_PORT}`]);
    const config = collectorConfig({
      brokers: k.brokers,
      prefix: k.prefix,
      collector: { ports: [PORT], capBytes: CAP },
    });
    collector = (await startCollector(config)).collector;
    reader = await RawTopicReader.start(k.kafka, k.topic('raw'));
    await waitFor(
      'the collector ok: capturing, its producer connected',
      () => collector!.status.state === 'ok',
      {
        timeoutMs: 20_000,
      },
    );
  });

  after(async () => {
    await collector?.stop();
    await lossy?.stop();
    await reader?.stop();
    await stopProcess(server);
    await k?.cleanup();
    pods?.remove();
  });

  it("captures Node's writev of a response in 21 iovecs whole, and counts nothing", async () => {
    const PARTS = 19;
    const SIZE = 100;
    const { headerSize, port } = await curl(pods.a, [
      `http://${pods.b.addr}:${PORT}/writev?parts=${PARTS}&size=${SIZE}`,
    ]);
    const server = await reader!.waitFor('the server end, closed', (rs) => {
      const events = sideOf(rs.events(), pods.b, port);
      return events.some((e) => e.kind === 'CLOSE') && events;
    });
    const [response] = responses(server);
    assert.ok(response);
    assert.equal(response.syscall, 'WRITEV');
    assert.equal(response.byteCount, BigInt(headerSize + PARTS * SIZE));
    assert.equal(response.truncated, false, 'every iovec was copied');
    const [head, ...body] = response.segments;
    assert.equal(head!.kind, 'HEAD');
    assert.equal(Number(head!.length), headerSize);
    assert.match(head!.data!.toString('latin1'), /^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\n$/);
    assert.deepEqual(
      body.map((s) => [s.kind, Number(s.length), s.endsMessage]),
      [['BODY', PARTS * SIZE, true]],
      'the whole body, and the response ends in this event',
    );
    // Its STATS were counted before the event was released to Kafka (loss-gate.ts).
    const c = collector!.counters;
    assert.deepEqual([...c.dropped], [], 'nothing lost');
    assert.deepEqual([...c.truncated], [], 'nothing truncated');
    assert.equal(collector!.status.state, 'ok');
    assert.match(collector!.status.summary, /^[^,]+, 0 dropped$/);
  });

  it('counts a head longer than the copy budget as a truncation, not a loss, and stays ok', async () => {
    const { headerSize, port } = await curl(pods.a, [`http://${pods.b.addr}:${PORT}/big-head?size=6000`]);
    assert.ok(headerSize > CAP);
    const [client, server] = await reader!.waitFor('both ends, closed', (rs) => {
      const ends = [sideOf(rs.events(), pods.a, port), sideOf(rs.events(), pods.b, port)];
      return ends.every((events) => events.some((e) => e.kind === 'CLOSE')) && ends;
    });
    const [response] = responses(server!);
    assert.ok(response);
    assert.equal(response.truncated, true, 'the event says its capture was cut');
    const head = response.segments[0]!;
    assert.equal(head.kind, 'HEAD');
    assert.ok(head.data!.length <= CAP, 'as far as the budget went');
    assert.ok(client!.some((e) => e.kind === 'DATA' && e.direction === 'INGRESS' && e.truncated));

    const c = collector!.counters;
    assert.deepEqual(
      [...c.truncated],
      [[`${DROP_STAGE.agent}/head_over_capture`, 2]],
      'one head at each end',
    );
    assert.equal(truncatedTotal(c), 2);
    assert.equal(droppedTotal(c), 0, 'a truncation is not a loss');
    const status = await waitFor(
      'a status line that reports the truncations',
      () => collector!.status.summary.includes('2 truncated') && collector!.status,
      { timeoutMs: 5000 },
    );
    assert.equal(status.state, 'ok');
    assert.equal(status.counters?.truncated, 2);
    assert.equal(status.counters?.dropped, 0);
    assert.ok(!componentPart('collector', status, true).startsWith(YELLOW), 'not yellow');
  });

  it('counts events a full buffer refused as a loss, and turns degraded (yellow)', async () => {
    // The smallest buffer there is; the records of a stats window are released at once, faster than
    // any produce request returns, so a burst of exchanges overflows it.
    const config = collectorConfig({
      brokers: k.brokers,
      prefix: k.prefix,
      collector: { ports: [LOSSY_PORT], capBytes: CAP, buffer: { maxEvents: 10 } },
    });
    lossy = (await startCollector(config)).collector;
    const c = lossy.counters;
    await waitFor('the collector ok: capturing, its producer connected', () => lossy!.status.state === 'ok', {
      timeoutMs: 20_000,
    });
    const urls = Array.from({ length: 40 }, () => `http://${pods.b.addr}:${LOSSY_PORT}/hello`);
    await waitFor(
      'events refused by the full buffer',
      async () => {
        await curl(pods.a, urls);
        return (c.dropped.get(`${DROP_STAGE.agent}/buffer_full`) ?? 0) > 0;
      },
      { timeoutMs: 30_000 },
    );
    assert.deepEqual([...c.truncated], [], 'no truncation on these small exchanges');
    // Degraded for the second in which the loss was counted, and for no other reason.
    const status = await waitFor(
      'a degraded status naming the loss',
      () =>
        lossy!.status.state === 'degraded' &&
        /^[^,]+, [1-9]\d* dropped$/.test(lossy!.status.summary) &&
        lossy!.status,
      { timeoutMs: 10_000, intervalMs: 20 },
    );
    assert.ok((status.counters?.dropped ?? 0) > 0);
    assert.equal(status.counters?.truncated, 0);
    assert.ok(componentPart('collector', status, true).startsWith(YELLOW), 'yellow');
  });
});
