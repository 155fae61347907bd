/**
 * The baseline of the pipeline benchmark's consumers: meshpipe's Kafka adapter alone, a consumer group reading a topic
 * from the beginning (read_committed and 1 MiB per partition per fetch, like the processor host),
 * counting records and doing nothing else — or, with `decode`, decoding each record into the raw events
 * it carries (schemas/topic-codec.ts), the least any meshpipe processor does per event. In a process of
 * its own, like the processors. `expected` counts records, or events with `decode`.
 *
 *   node bench/pipeline/baseline-consumer.ts <brokers> <topic> <expected> [decode]
 *
 * Prints one JSON line: {records, events, seconds (first record to last), eventsPerSecond}.
 */
import { createKafka } from '../../lib/kafka.ts';
import { createLogger } from '../../lib/logger.ts';
import { topicCodec } from '../../schemas/topic-codec.ts';
import { TOPICS } from '../../schemas/topics.ts';

const [brokers, topic, expectedText, mode] = process.argv.slice(2);
const expected = Number(expectedText);
const decode = mode === 'decode';
const codec = topicCodec(TOPICS.raw);
const logger = createLogger({ component: 'bench/pipeline/baseline', level: 'warn' });
const kafka = createKafka({ brokers: brokers!.split(','), clientId: 'bench-pipeline-baseline', logger });
let records = 0;
let events = 0;
let first = 0;
let last = 0;
let resolveDone: () => void = () => {};
const done = new Promise<void>((resolve) => {
  resolveDone = resolve;
});
const consumer = kafka.consumer({
  groupId: `bench-pipeline-baseline-${process.pid}-${Date.now()}`,
  topics: [topic!],
  fromBeginning: true,
  readCommitted: true,
  maxBytesPerPartition: 1_048_576,
  maxWaitMs: 100,
  eachBatch: async (batch) => {
    if (first === 0) first = performance.now();
    if (decode) for (const m of batch.records) events += codec.decodeRecord(m.value!).length;
    records += batch.records.length;
    last = performance.now();
    if ((decode ? events : records) >= expected) resolveDone();
  },
});
await consumer.connect();
const timeout = setTimeout(() => {
  console.error(`baseline consumer: only ${decode ? events : records} of ${expected} within 120 s`);
  process.exit(1);
}, 120_000);
await done;
clearTimeout(timeout);
const seconds = (last - first) / 1000;
const count = decode ? events : records;
console.log(JSON.stringify({ records, events, seconds, eventsPerSecond: Math.round(count / seconds) }));
await consumer.disconnect();
process.exit(0);
