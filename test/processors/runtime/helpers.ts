/**
 * Shared by the processor-runtime tests that run on the broker: the counter test processor's topics,
 * producing its inputs, reading its outputs and changelog back (read_committed), a configuration file
 * with consumer-group timings short enough for tests, and `meshpipe process` as a child process that a
 * test can kill.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type KafkaAdmin, type KafkaClient, readPartitionsToEnd } from '../../../lib/kafka.ts';
import { registerProcessorSchemas } from '../../../processors/runtime/processor-topics.ts';
import { jsonStateCodec } from '../../../processors/runtime/state-codec.ts';
import { codecFor } from '../../../schemas/codec.ts';
import { topicName } from '../../../schemas/topics.ts';
import { CLI } from '../../helpers/cli.ts';
import counter, { COUNTER_INPUT, COUNTER_OUTPUT, type CounterInput } from './fixtures/counter.ts';

export const COUNTER_PATH = new URL('./fixtures/counter.ts', import.meta.url).pathname;
export const LOOPER_PATH = new URL('./fixtures/looper.ts', import.meta.url).pathname;

registerProcessorSchemas(counter);
const inputCodec = codecFor<CounterInput>('counter-input');
const outputCodec = codecFor<{ key: string; count: bigint; n: bigint }>('counter-output');

/** Consumer-group timings for tests: the broker's minimum session timeout, quick fetches and metrics. */
export const TEST_RUNTIME = {
  sessionTimeoutMs: 6_000,
  heartbeatIntervalMs: 500,
  rebalanceTimeoutMs: 6_000,
  maxWaitMs: 100,
  transactionTimeoutMs: 10_000,
  metricsIntervalMs: 1_000,
};

/** A meshpipe.json for child processes: `processors.<name>.runtime` = TEST_RUNTIME for each name. */
export function testConfigFile(names: string[], extra: Record<string, Record<string, unknown>> = {}): string {
  const processors: Record<string, unknown> = {};
  for (const name of names) processors[name] = { runtime: TEST_RUNTIME, ...extra[name] };
  const file = join(mkdtempSync(join(tmpdir(), 'meshpipe-proc-')), 'meshpipe.json');
  writeFileSync(file, JSON.stringify({ processors }));
  return file;
}

export function counterTopics(prefix: string) {
  return {
    input: topicName(COUNTER_INPUT, prefix),
    output: topicName(COUNTER_OUTPUT, prefix),
    changelog: `${prefix}.counter.changelog.v1`,
    group: `${prefix}-counter`,
  };
}

/** Inputs `n` = from..from+perKey-1 for each of `keys` keys, interleaved. */
export function counterInputs(keys: number, perKey: number, from = 1): CounterInput[] {
  const out: CounterInput[] = [];
  for (let n = from; n < from + perKey; n++)
    for (let k = 0; k < keys; k++) out.push({ key: `k${k}`, n: BigInt(n) });
  return out;
}

export async function produceCounterInputs(
  kafka: KafkaClient,
  prefix: string,
  inputs: readonly CounterInput[],
  options: { batch?: number; pauseMs?: number; raw?: Array<{ key: string; value: Buffer }> } = {},
): Promise<void> {
  const producer = kafka.producer();
  await producer.connect();
  try {
    const topic = counterTopics(prefix).input;
    const batch = options.batch ?? inputs.length;
    for (let i = 0; i < inputs.length; i += batch) {
      const messages = inputs.slice(i, i + batch).map((v) => ({ key: v.key, value: inputCodec.encode(v) }));
      await producer.send({ topic, messages });
      if (options.pauseMs !== undefined) await new Promise((r) => setTimeout(r, options.pauseMs));
    }
    if (options.raw !== undefined) await producer.send({ topic, messages: options.raw });
  } finally {
    await producer.disconnect();
  }
}

export function encodeCounterInput(value: CounterInput): Buffer {
  return inputCodec.encode(value);
}

/** The counter's outputs, read_committed: the counts of each key in output order. */
export async function readCounterOutputs(
  kafka: KafkaClient,
  admin: KafkaAdmin,
  prefix: string,
): Promise<Map<string, bigint[]>> {
  const byKey = new Map<string, bigint[]>();
  await readPartitionsToEnd({
    kafka,
    admin,
    topic: counterTopics(prefix).output,
    partitions: Array.from({ length: COUNTER_OUTPUT.partitions }, (_, i) => i),
    onRecord(_partition, message) {
      const v = outputCodec.decode(message.value!);
      byKey.set(v.key, [...(byKey.get(v.key) ?? []), v.count]);
    },
  });
  return byKey;
}

/** The counter's committed state, from its changelog (latest value per key). */
export async function readCounterState(
  kafka: KafkaClient,
  admin: KafkaAdmin,
  prefix: string,
): Promise<Map<string, bigint>> {
  const codec = jsonStateCodec<bigint>();
  const state = new Map<string, bigint>();
  await readPartitionsToEnd({
    kafka,
    admin,
    topic: counterTopics(prefix).changelog,
    partitions: Array.from({ length: COUNTER_INPUT.partitions }, (_, i) => i),
    onRecord(_partition, message) {
      // The counter's one store, `state`: its records are keyed `state/<key>` (partition-stores.ts).
      assert.ok(message.key!.toString().startsWith('state/'));
      const key = message.key!.toString().slice('state/'.length);
      if (message.value === null) state.delete(key);
      else state.set(key, codec.decode(message.value));
    },
  });
  return state;
}

/** Whether the group's committed offsets reached the end of every partition of `topic`. */
export async function caughtUp(admin: KafkaAdmin, groupId: string, topic: string): Promise<boolean> {
  const [ends, committed] = await Promise.all([
    admin.topicOffsets(topic),
    admin.committedOffsets(groupId, [topic]),
  ]);
  const mine = committed.get(topic) ?? new Map<number, bigint>();
  return ends.every((e) => {
    const offset = mine.get(e.partition) ?? -1n;
    // A partition that never had a record has nothing to commit.
    return offset >= e.high || (offset < 0n && e.high === e.low);
  });
}

export interface RunningCli {
  child: ChildProcess;
  stderr(): string;
  stdout(): string;
  exited: Promise<number | null>;
}

/** `meshpipe <args>` as a child process the test controls (kill it, read its output). */
export function startCli(args: string[], env: Record<string, string>): RunningCli {
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { ...process.env, MESHPIPE_LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => {
    stdout += d;
  });
  child.stderr!.on('data', (d) => {
    stderr += d;
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, stderr: () => stderr, stdout: () => stdout, exited };
}
