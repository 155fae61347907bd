/**
 * What every benchmark records about the machine it ran on (its figures mean little without it), and
 * the Kafka it runs against: MESHPIPE_KAFKA_BROKERS when set, else the project's local stack, started
 * if it is not up (as `meshpipe up` does).
 */
import { cpus, release, totalmem } from 'node:os';
import { ensureStack } from '../lib/local-stack/stack.ts';
import type { Logger } from '../lib/logger.ts';

export function machineFacts() {
  return {
    kernel: release(),
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
  };
}

export async function benchBrokers(logger: Logger): Promise<string[]> {
  const configured = process.env.MESHPIPE_KAFKA_BROKERS;
  if (configured !== undefined && configured !== '') return configured.split(',');
  return (await ensureStack({ logger, redis: false })).endpoints.kafkaBrokers;
}
