/**
 * What every benchmark records about the machine it ran on (its figures mean little without it), and
 * the Kafka it runs against: MESHPIPE_KAFKA_BROKERS when set, else the project's local stack, started
 * if it is not up (as `meshpipe up` does).
 */

import { readFileSync } from 'node:fs';
import { cpus, release, totalmem } from 'node:os';
import { gunzipSync } from 'node:zlib';
import { ensureStack } from '../cli/stack/stack.ts';
import { createKafka, type KafkaAdmin } from '../lib/kafka.ts';
import type { Logger } from '../lib/logger.ts';

/**
 * How the kernel preempts: on a kernel without preemption a task in a system call delays a woken
 * application until the call ends, which is what a collector on the application's core costs its tail
 * latency (docs/benchmarks.md). The running mode of a PREEMPT_DYNAMIC kernel is in debugfs when it is
 * readable; otherwise the build's default, from /proc/config.gz.
 */
export function preemption(): string {
  try {
    const modes = readFileSync('/sys/kernel/debug/sched/preempt', 'utf8').trim();
    const current = /\(([^)]+)\)/.exec(modes)?.[1];
    if (current !== undefined) return `${current} (running mode of a PREEMPT_DYNAMIC kernel: ${modes})`;
  } catch {
    // debugfs not mounted or not readable (kernel lockdown): fall back to the build configuration.
  }
  try {
    const config = gunzipSync(readFileSync('/proc/config.gz')).toString('latin1');
    const set = (name: string) => new RegExp(`^${name}=y$`, 'm').test(config);
    const model = set('CONFIG_PREEMPT_RT')
      ? 'rt'
      : set('CONFIG_PREEMPT')
        ? 'full'
        : set('CONFIG_PREEMPT_VOLUNTARY')
          ? 'voluntary'
          : set('CONFIG_PREEMPT_NONE')
            ? 'none'
            : 'unknown';
    return `${model}${set('CONFIG_PREEMPT_DYNAMIC') ? ' (PREEMPT_DYNAMIC kernel, its build default; the running mode could not be read)' : ''}`;
  } catch {
    return 'unknown';
  }
}

export function machineFacts() {
  return {
    kernel: release(),
    preemption: preemption(),
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

/**
 * An admin client for a benchmark's own topics (all named `<run>...`) and how to drop them: when the
 * benchmark ends, and on Ctrl-C (pass `drop` to the signal handlers), so runs leave no topics behind.
 */
export async function benchTopics(
  brokers: string[],
  run: string,
  clientId: string,
  logger: Logger,
): Promise<{ admin: KafkaAdmin; drop: () => Promise<void> }> {
  const admin = createKafka({ brokers, clientId, logger }).admin();
  await admin.connect();
  const drop = async () => {
    const mine = (await admin.listTopics()).filter((t) => t.startsWith(run));
    if (mine.length > 0) await admin.deleteTopics(mine).catch(() => {});
    await admin.disconnect().catch(() => {});
  };
  return { admin, drop };
}

/**
 * CPU time this process has used, in nanoseconds (microsecond resolution): for micro-benchmarks on a
 * shared machine, where wall-clock time also counts the time other processes held the core.
 */
export function cpuTimeNs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) * 1000;
}
