/**
 * meshpipe's processors and sinks as the pipeline benchmark runs them: real `meshpipe process <name>` and
 * `meshpipe sink otlp` child processes (one process per instance, as a Kubernetes Deployment runs them),
 * each with its /metrics endpoint, its CPU time and memory read from /proc.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { choosePort } from '../../cli/stack/ports.ts';
import { CLI, parseExposition, sumOf } from '../collector/harness.ts';
import { onCleanup } from '../overhead/topology.ts';

export interface Component {
  readonly name: string;
  readonly pid: number;
  /** Records consumed (committed) so far, from /metrics; null without a metrics endpoint. */
  consumed(): Promise<number | null>;
  /** Records produced (committed) so far, by output topic suffix match. */
  produced(topic: RegExp): Promise<number | null>;
  stop(): Promise<void>;
}

export interface ComponentOptions {
  brokers: string[];
  topicPrefix: string;
  /** A meshpipe.json for processor settings, if any. */
  configFile?: string;
  nodeFlags?: string[];
  env?: Record<string, string>;
  /** The CLI to run: the sources' cli/main.ts (default), or the compiled dist/cli/main.js. */
  entry?: string;
}

function spawnCli(name: string, args: string[], o: ComponentOptions): ChildProcess {
  const child = spawn(process.execPath, [...(o.nodeFlags ?? []), o.entry ?? CLI, ...args], {
    env: {
      ...process.env,
      MESHPIPE_LOG_LEVEL: 'warn',
      MESHPIPE_KAFKA_BROKERS: o.brokers.join(','),
      MESHPIPE_TOPIC_PREFIX: o.topicPrefix,
      ...(o.configFile === undefined ? {} : { MESHPIPE_CONFIG: o.configFile }),
      ...o.env,
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  child.once('exit', (code, signal) => {
    if (code !== 0 && signal !== 'SIGTERM' && signal !== 'SIGKILL')
      console.error(`${name} exited with ${code ?? signal}: ${stderr}`);
  });
  onCleanup(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  return child;
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const exited = new Promise((r) => child.once('exit', r));
  if ((await Promise.race([exited.then(() => true), sleep(15_000).then(() => false)])) === false) {
    child.kill('SIGKILL');
    await exited;
  }
}

async function waitHealthy(name: string, child: ChildProcess, port: number): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode} while starting`);
    try {
      if ((await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200) return;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  throw new Error(`${name} did not become healthy within 60 s`);
}

/** `meshpipe process <processor>`: one instance in its own process. */
export async function startProcessor(processor: string, o: ComponentOptions): Promise<Component> {
  const port = await choosePort(39_800 + Math.floor(Math.random() * 100));
  const child = spawnCli(processor, ['process', processor, '--metrics-port', String(port)], o);
  await waitHealthy(processor, child, port);
  const scrape = async () => parseExposition(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text());
  return {
    name: processor,
    pid: child.pid!,
    consumed: async () => sumOf(await scrape(), 'meshpipe_processor_records_consumed_total'),
    produced: async (topic) =>
      sumOf(
        await scrape(),
        'meshpipe_processor_records_produced_total',
        new RegExp(`topic="[^"]*${topic.source}`),
      ),
    stop: () => stopChild(child),
  };
}

/** `meshpipe sink otlp --endpoint <url>` in its own process (its progress is read at the receiver). */
export async function startOtlpSink(endpoint: string, o: ComponentOptions): Promise<Component> {
  const child = spawnCli('sink otlp', ['sink', 'otlp', '--endpoint', endpoint], o);
  await sleep(500);
  if (child.exitCode !== null) throw new Error(`sink otlp exited with ${child.exitCode}`);
  return {
    name: 'otlp-sink',
    pid: child.pid!,
    consumed: async () => null,
    produced: async () => null,
    stop: () => stopChild(child),
  };
}
