/**
 * Apache Kafka's Java client (apache-kafka-client.java), compiled once per test process against the
 * broker's jars: producing inputs, reading outputs read_committed and asking the cluster about
 * transaction coordinators and replication, with code meshpipe did not write — so a test of meshpipe's
 * exactly-once processing does not check itself with its own Kafka client.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findJava } from '../../cli/stack/java.ts';
import { run } from '../../cli/stack/processes.ts';
import { kafkaLibsDir } from '../../lib/paths.ts';

const SOURCE = fileURLToPath(new URL('./apache-kafka-client.java', import.meta.url));

export interface ProducedTotals {
  acked: number;
  failed: number;
  error: string | null;
}

/** A producer fed record by record; `end()` flushes, and resolves once every record was acknowledged. */
export interface JavaProducer {
  send(key: Buffer, value: Buffer): void;
  end(): Promise<ProducedTotals>;
  kill(): void;
}

export interface ReadRecord {
  partition: number;
  offset: number;
  key: Buffer | null;
  value: Buffer | null;
}

export interface ApacheKafkaClient {
  produce(bootstrap: string[], topic: string): JavaProducer;
  /** Every record of the topic, from the beginning to the end, read_committed. */
  read(bootstrap: string[], topic: string, timeoutSeconds?: number): Promise<ReadRecord[]>;
  /** Samples of the group's progress on the topic and of the cluster's health, taken continuously. */
  watch(bootstrap: string[], group: string, topic: string): Watcher;
  /** The coordinator (broker id) of every transactional id starting with `prefix`. */
  coordinators(
    bootstrap: string[],
    prefix: string,
  ): Promise<Record<string, { coordinator: number; state: string }>>;
}

export interface Sample {
  /** The group's committed offsets on the topic, summed over its partitions. */
  committed: number;
  /** The topic's end offsets (high watermarks), summed. */
  end: number;
  /** Live brokers. */
  brokers: number;
  /** Partitions of all topics (internal ones included) with fewer in-sync replicas than replicas. */
  underReplicated: number;
  /** Date.now() when it arrived. */
  at: number;
}

export interface Watcher {
  /** The first sample that arrives after this call (rejects after `timeoutMs`). */
  next(timeoutMs?: number): Promise<Sample>;
  /** The latest sample, if any. */
  latest(): Sample | undefined;
  close(): void;
}

/** Compiles the client (a few seconds); throws with javac's output if that fails. */
export function apacheKafkaClient(): ApacheKafkaClient {
  const java = findJava().command;
  const javac = java.replace(/java$/, 'javac');
  const classes = mkdtempSync(join(tmpdir(), 'meshpipe-kafka-client-'));
  const libs = `${kafkaLibsDir()}/*`;
  const compiled = run(javac, ['-nowarn', '-cp', libs, '-d', classes, SOURCE], { timeoutMs: 120_000 });
  if (!compiled.ok) throw new Error(`javac ${SOURCE} failed: ${compiled.output}`);
  // The client logs warnings (a broker that is down) to stderr, which the caller keeps for failures.
  const log4j = join(classes, 'log4j.properties');
  writeFileSync(
    log4j,
    'log4j.rootLogger=ERROR, stderr\nlog4j.appender.stderr=org.apache.log4j.ConsoleAppender\nlog4j.appender.stderr.Target=System.err\nlog4j.appender.stderr.layout=org.apache.log4j.PatternLayout\nlog4j.appender.stderr.layout.ConversionPattern=%p %m (%c)%n\n',
  );
  const argsFor = (command: string[]) => [
    `-Dlog4j.configuration=file:${log4j}`,
    '-Xmx256m',
    '-cp',
    `${classes}:${libs}`,
    'ApacheKafkaClient',
    ...command,
  ];

  /** Everything a child writes, as it comes. */
  function collected(child: ChildProcessWithoutNullStreams): { stdout(): string; stderr(): string } {
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    return { stdout: () => stdout, stderr: () => stderr };
  }

  function start(command: string[]): ChildProcessWithoutNullStreams {
    return spawn(java, argsFor(command), { stdio: ['pipe', 'pipe', 'pipe'] });
  }

  /** Runs a command to its end; its stdout's JSON lines. */
  function lines(command: string[], timeoutMs: number): Promise<unknown[]> {
    return new Promise((resolve, reject) => {
      const child = start(command);
      child.stdin.end();
      const output = collected(child);
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      child.on('error', reject);
      child.on('close', (code) => {
        clearTimeout(timer);
        if (code !== 0) {
          reject(
            new Error(`kafka client ${command[0]} exited with ${code}: ${output.stderr().slice(-2000)}`),
          );
          return;
        }
        resolve(
          output
            .stdout()
            .split('\n')
            .filter((l) => l !== '')
            .map((l) => JSON.parse(l) as unknown),
        );
      });
    });
  }

  const one = async <T>(command: string[], timeoutMs = 30_000): Promise<T> =>
    (await lines(command, timeoutMs)).at(-1) as T;

  return {
    produce(bootstrap, topic) {
      const child = start(['produce', bootstrap.join(','), topic]);
      const output = collected(child);
      const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
      return {
        send(key, value) {
          child.stdin.write(`${key.toString('hex')} ${value.toString('hex')}\n`);
        },
        async end() {
          child.stdin.end();
          const code = await exited;
          const last = output.stdout().trim().split('\n').at(-1) ?? '';
          if (!last.startsWith('{'))
            throw new Error(`the producer exited with ${code}: ${output.stderr().slice(-2000)}`);
          return JSON.parse(last) as ProducedTotals;
        },
        kill() {
          child.kill('SIGKILL');
        },
      };
    },
    async read(bootstrap, topic, timeoutSeconds = 60) {
      const out = await lines(
        ['read', bootstrap.join(','), topic, String(timeoutSeconds)],
        timeoutSeconds * 1000 + 30_000,
      );
      return (out as Array<{ partition?: number; offset: number; key: string | null; value: string | null }>)
        .filter((r) => r.partition !== undefined)
        .map((r) => ({
          partition: r.partition!,
          offset: r.offset,
          key: r.key === null ? null : Buffer.from(r.key, 'hex'),
          value: r.value === null ? null : Buffer.from(r.value, 'hex'),
        }));
    },
    watch(bootstrap, group, topic) {
      const child = start(['watch', bootstrap.join(','), group, topic]);
      let latest: Sample | undefined;
      let waiting: Array<(s: Sample) => void> = [];
      let partial = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => {
        const lines = (partial + d).split('\n');
        partial = lines.pop()!;
        for (const line of lines) {
          const value = JSON.parse(line) as Omit<Sample, 'at'> | { error: string };
          if ('error' in value) continue; // a broker down: the next sample will tell
          latest = { ...value, at: Date.now() };
          for (const resolve of waiting) resolve(latest);
          waiting = [];
        }
      });
      child.stderr.resume();
      return {
        next: (timeoutMs = 60_000) =>
          new Promise((resolve, reject) => {
            const timer = setTimeout(
              () => reject(new Error(`no sample of ${group} in ${timeoutMs} ms`)),
              timeoutMs,
            );
            waiting.push((sample) => {
              clearTimeout(timer);
              resolve(sample);
            });
          }),
        latest: () => latest,
        close() {
          child.stdin.end();
        },
      };
    },
    coordinators: (bootstrap, prefix) => one(['coordinators', bootstrap.join(','), prefix]),
  };
}
