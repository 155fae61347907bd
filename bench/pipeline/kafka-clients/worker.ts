/**
 * One scenario with one client, in a process of its own so that the CPU and memory measured are that
 * client's (kafka-clients.ts forks it). Messages on the IPC channel:
 *   → parent {result}                 produce / consume / loop: the window's records, bytes, seconds and
 *                                      CPU seconds (user + system of every thread, /proc/self/stat)
 *   → parent {ready}, ← {stop}        idle: connected and settled; the parent reads the memory, then stops it
 *   → parent {check}                  checks.ts: one feature or correctness check's outcome
 *
 *   node bench/pipeline/kafka-clients/worker.ts <client> <brokers> <scenario JSON>
 */
import { readFileSync } from 'node:fs';
import { procUsage } from '../../../collectors/proc-usage.ts';
import { runCheck } from './checks.ts';
import { confluentDriver } from './confluent-driver.ts';
import type { ClientName, Driver, KafkaRecord, Window } from './driver.ts';
import { kafkajsDriver } from './kafkajs-driver.ts';
import { platformaticDriver } from './platformatic-driver.ts';
import type { Scenario } from './scenarios.ts';

const [client, brokerList, scenarioJson] = process.argv.slice(2) as [ClientName, string, string];
const brokers = brokerList.split(',');
const scenario = JSON.parse(scenarioJson) as Scenario;

const send = (message: object) => new Promise<void>((resolve) => process.send!(message, () => resolve()));

/** Reads a record pool written by scenarios.ts: [u32 key length][key][u32 value length][value]... */
function readPool(path: string): KafkaRecord[] {
  const data = readFileSync(path);
  const pool: KafkaRecord[] = [];
  for (let at = 0; at < data.length; ) {
    const keyLength = data.readUInt32BE(at);
    const key = data.subarray(at + 4, at + 4 + keyLength);
    at += 4 + keyLength;
    const valueLength = data.readUInt32BE(at);
    pool.push({ key, value: data.subarray(at + 4, at + 4 + valueLength) });
    at += 4 + valueLength;
  }
  return pool;
}

function measuredWindow() {
  let from: { at: number; cpu: number } | null = null;
  let to: { at: number; cpu: number } | null = null;
  const sample = () => ({ at: performance.now(), cpu: procUsage(process.pid)!.cpuSeconds });
  const window: Window = {
    start: () => {
      from ??= sample();
    },
    end: () => {
      to = sample();
    },
  };
  return {
    window,
    figures: () => {
      if (from === null || to === null) throw new Error('the scenario never opened or closed its window');
      return { seconds: (to.at - from.at) / 1000, cpuSeconds: to.cpu - from.cpu };
    },
  };
}

async function driverFor(name: ClientName): Promise<Driver> {
  if (name === 'kafkajs') return kafkajsDriver(brokers);
  if (name === 'platformatic') return platformaticDriver(brokers);
  return confluentDriver(brokers);
}

async function main(): Promise<void> {
  if (scenario.kind === 'check') {
    await send({ check: await runCheck(client, brokers, scenario.check, scenario.prefix) });
    return;
  }
  const driver = await driverFor(client);
  const { window, figures } = measuredWindow();
  switch (scenario.kind) {
    case 'produce': {
      const pool = readPool(scenario.poolFile);
      await driver.produce({ ...scenario.case, pool }, window);
      const bytes = Array.from({ length: scenario.case.records }, (_, i) => pool[i % pool.length]!).reduce(
        (a, r) => a + r.key.length + r.value.length,
        0,
      );
      await send({ result: { records: scenario.case.records, bytes, ...figures() } });
      return;
    }
    case 'consume': {
      const bytes = await driver.consume(scenario.case, window);
      await send({ result: { records: scenario.case.expected, bytes, ...figures() } });
      return;
    }
    case 'loop': {
      const transactions = await driver.loop(scenario.case, window);
      await send({ result: { records: scenario.case.expected, transactions, ...figures() } });
      return;
    }
    case 'idle': {
      const close = await driver.idle(scenario.case);
      // Let connections, metadata refreshes and the first heartbeats settle before the parent looks.
      await new Promise((resolve) => setTimeout(resolve, 3000));
      const stop = new Promise<void>((resolve) => process.once('message', () => resolve()));
      await send({ ready: true });
      await stop;
      await close();
      return;
    }
  }
}

main().then(
  () => process.exit(0),
  async (err: unknown) => {
    const e = err as Error;
    await send({ error: `${e?.name ?? 'Error'}: ${e?.message ?? String(err)}` }).catch(() => {});
    process.exit(1);
  },
);
