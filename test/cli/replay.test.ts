import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readPartitionsToEnd } from '../../lib/kafka.ts';
import { partitionOfKey } from '../../lib/key-partition.ts';
import { rawEvent } from '../../processors/runtime/test-events.ts';
import { topicCodec } from '../../schemas/topic-codec.ts';
import { TOPICS } from '../../schemas/topics.ts';
import type { L7RawEvent } from '../../schemas/types.ts';
import { createRecordingWriter } from '../../sdk/recording.ts';
import { type TestKafka, testKafka } from '../../testkit/kafka.ts';
import { jsonLines, runCli } from '../helpers/cli.ts';

const REQUESTS = new URL('../processors/runtime/fixtures/requests.ts', import.meta.url).pathname;
const GET = 'GET /orders/7 HTTP/1.1\r\nHost: orders\r\n\r\n';
const OK = 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n';
const T0 = 1_700_000_000_000n * 1_000_000n;
const ms = (n: number) => T0 + BigInt(n) * 1_000_000n;

interface Line {
  processor: string;
  topic: string;
  key: string | null;
  timestampMs: number;
  schema: string;
  value: { key?: string; count?: string; errorCode?: string; sourceOffset?: string };
}

describe('meshpipe replay', () => {
  let file: string;
  let k: TestKafka;
  before(async () => {
    // One connection (one partition): a request and its response at 100 ms, another request at 1.5 s,
    // and a `boom` event the processor throws on.
    file = join(mkdtempSync(join(tmpdir(), 'meshpipe-replay-')), 'capture.avro');
    const writer = createRecordingWriter(file);
    writer.write(rawEvent({ service: 'gateway', direction: 'EGRESS', head: GET, timeUnixNano: ms(0) }));
    writer.write(rawEvent({ service: 'orders', direction: 'INGRESS', head: GET, timeUnixNano: ms(1) }));
    writer.write(rawEvent({ service: 'orders', direction: 'EGRESS', head: OK, timeUnixNano: ms(100) }));
    writer.write(rawEvent({ service: 'boom', direction: 'EGRESS', head: GET, timeUnixNano: ms(200) }));
    writer.write(rawEvent({ service: 'gateway', direction: 'EGRESS', head: GET, timeUnixNano: ms(1_500) }));
    assert.equal(await writer.close(), 5);
    k = await testKafka('replay');
  });
  after(async () => k.cleanup());

  it("runs a processor over a recording in memory, on the recording's clock, printing every output", async () => {
    const r = await runCli(['replay', file, '--processor', REQUESTS, '--advance', '1', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const lines = jsonLines(r.stdout) as Line[];
    const counts = lines
      .filter((l) => l.topic === 'meshpipe.test.requests.v1')
      .map((l) => [l.timestampMs - 1_700_000_000_000, l.value.key, l.value.count]);
    // Windows close at 1 s and 2 s of recorded time; --advance lets the last one close.
    assert.deepEqual(counts, [
      [1_000, 'gateway', '1'],
      [1_000, 'orders', '2'],
      [2_000, 'gateway', '1'],
    ]);
    const dead = lines.filter((l) => l.topic === 'meshpipe.dlq.v1');
    assert.equal(dead.length, 1);
    assert.equal(dead[0]!.value.errorCode, 'MESHPIPE_ERR_PROCESSOR_HANDLER_FAILED');
    assert.equal(dead[0]!.value.sourceOffset, '3');
    assert.match(r.stderr, /replayed 5 events through requests: 3 outputs, 1 dead letters/);
  });

  it('prints one readable line per output without --json', async () => {
    const r = await runCli(['replay', file, '--processor', REQUESTS]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^meshpipe\.test\.requests\.v1\[\d\]@0 \{"key":"gateway","count":"1"/m);
    assert.match(
      r.stdout,
      /^meshpipe\.dlq\.v1\[0\]@0 requests MESHPIPE_ERR_PROCESSOR_HANDLER_FAILED meshpipe\.l7\.raw\.v2\[\d\]@3: /m,
    );
  });

  it('names the problem with a file that is not a recording, or a chain without a raw reader', async () => {
    const junk = join(mkdtempSync(join(tmpdir(), 'meshpipe-replay-')), 'junk.avro');
    writeFileSync(junk, 'not a recording');
    const bad = await runCli(['replay', junk, '--processor', REQUESTS]);
    assert.equal(bad.code, 65, bad.stderr);
    assert.match(bad.stderr, /MESHPIPE_ERR_REPLAY_RECORDING_UNREADABLE/);
    const counter = new URL('../processors/runtime/fixtures/counter.ts', import.meta.url).pathname;
    const noRaw = await runCli(['replay', file, '--processor', counter]);
    assert.equal(noRaw.code, 64);
    assert.match(noRaw.stderr, /MESHPIPE_ERR_REPLAY_NO_RAW_INPUT/);
  });

  it('--to-kafka produces the events to the raw topic, in batch records on the partition of their connection', async () => {
    await k.createTopics();
    const r = await runCli(['replay', file, '--to-kafka', '--json'], { env: k.env });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), {
      topic: k.topic('raw'),
      events: 5,
      seconds: JSON.parse(r.stdout).seconds,
    });
    const keys: string[] = [];
    const codec = topicCodec<L7RawEvent>(TOPICS.raw);
    await readPartitionsToEnd({
      kafka: k.kafka,
      admin: k.admin,
      topic: k.topic('raw'),
      partitions: [0, 1, 2, 3, 4, 5],
      onRecord: (p, m) => {
        for (const event of codec.decodeRecord(m.value!)) {
          assert.equal(p, partitionOfKey(event.connection.key, 6));
          keys.push(codec.keyOf(event)!);
        }
      },
    });
    assert.deepEqual(keys, Array(5).fill('10.0.0.1:40000|10.0.0.2:8080'));
  });
});
