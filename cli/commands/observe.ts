/**
 * `meshpipe observe`: the HTTP exchanges of this node, live, without Kafka (like `hubble observe`).
 * The capture pipeline is the collector's (same redaction, same minimisation); the events go to an
 * ExchangeView instead of Kafka.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { newCaptureCounters } from '../../collectors/capture-counters.ts';
import { createCapturePipeline } from '../../collectors/capture-pipeline.ts';
import { compileExchangeFilter, FILTER_KEYS } from '../../collectors/observe/exchange-filter.ts';
import { type ExchangeRow, ExchangeView } from '../../collectors/observe/exchange-view.ts';
import { ERRORS, MeshpipeError } from '../../lib/errors.ts';
import type { CommandDefinition } from '../command.ts';

function isoTime(ns: bigint): string {
  const ms = Number(ns / 1_000_000n);
  return new Date(ms).toISOString();
}

function endpoint(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

function formatRow(r: ExchangeRow): string {
  const time = isoTime(r.timeUnixNano).slice(11, 23);
  const who = `${r.pod ?? r.node}/${r.process.comm || '?'}[${r.process.pid}]`;
  const arrow = r.side === 'server' ? '<-' : '->';
  const peer = `${endpoint(r.peer.address, r.peer.port)}${r.peer.pod === null ? '' : ` (${r.peer.pod})`}`;
  const request = r.method === null ? '(no request seen)' : `${r.method} ${r.target ?? ''}`;
  const status = r.status === null ? (r.incompleteReason ?? 'no response') : String(r.status);
  const latency = r.latencyMs === null ? '' : ` ${r.latencyMs.toFixed(r.latencyMs < 10 ? 2 : 1)}ms`;
  return `${time} ${r.side.padEnd(6)} ${who} ${arrow} ${peer}  ${request}  ${status}${latency}`;
}

function jsonRow(r: ExchangeRow): Record<string, unknown> {
  return { time: isoTime(r.timeUnixNano), ...r, timeUnixNano: r.timeUnixNano.toString() };
}

export const command: CommandDefinition = {
  name: 'observe',
  summary: 'Watch the HTTP exchanges on this node live (no Kafka), redacted, with filters.',
  usage: 'observe [--filter key=value]... [--limit N] [--duration s] [--json]',
  description: `Captures with eBPF like \`meshpipe collect\` (root, or CAP_BPF + CAP_PERFMON + CAP_SYS_RESOURCE), turns the raw events (redacted exactly as they would be shipped) back into request/response exchanges, and prints one line per exchange and side: time, side (client/server), pod/process, peer, method and target, status, latency. Filter keys: ${FILTER_KEYS.join(', ')}; the same key twice means either, different keys all.`,
  options: {
    filter: {
      type: 'string',
      multiple: true,
      value: '<key=value>',
      doc: 'pod=<glob>, service=<glob>, process=<glob|pid>, port=<n>, method=<GET...>, status=<code|5xx>. Repeatable.',
    },
    limit: { type: 'string', value: '<n>', doc: 'Exit after printing n exchanges.' },
    duration: { type: 'string', value: '<seconds>', doc: 'Exit after this many seconds.' },
  },
  json: true,
  examples: [
    'sudo meshpipe observe',
    'sudo meshpipe observe --filter pod=orders --filter status=5xx',
    'sudo meshpipe observe --filter port=8080 --json | jq .latencyMs',
  ],
  async run(ctx) {
    const filter = compileExchangeFilter((ctx.values.filter as string[] | undefined) ?? []);
    const limit = ctx.values.limit === undefined ? Number.POSITIVE_INFINITY : Number(ctx.values.limit);
    if (limit !== Number.POSITIVE_INFINITY && (!Number.isInteger(limit) || limit < 1))
      throw new MeshpipeError(ERRORS.CLI_BAD_ARGUMENTS, ['--limit must be a positive integer']);
    const durationMs = ctx.values.duration === undefined ? 0 : Number(ctx.values.duration) * 1000;
    if (!Number.isFinite(durationMs) || durationMs < 0)
      throw new MeshpipeError(ERRORS.CLI_BAD_ARGUMENTS, ['--duration must be a number of seconds']);
    const { config } = ctx.config();

    const view = new ExchangeView();
    let printed = 0;
    let finish: () => void = () => {};
    const finished = new Promise<void>((resolve) => {
      finish = resolve;
    });
    const print = (rows: ExchangeRow[]) => {
      for (const row of rows) {
        if (printed >= limit || !filter.matches(row)) continue;
        printed++;
        if (ctx.json) ctx.printJson(jsonRow(row), { line: true });
        else ctx.out(formatRow(row));
        if (printed >= limit) finish();
      }
    };
    const counters = newCaptureCounters();
    const pipeline = createCapturePipeline({
      config,
      logger: ctx.logger,
      counters,
      emit: (event) => print(view.push(event)),
      ...(filter.ports.length > 0 ? { loader: { ports: filter.ports } } : {}),
    });
    ctx.progress.update('starting the eBPF capture');
    await pipeline.capture.start();
    ctx.progress.done();
    ctx.logger.info({ filters: ctx.values.filter ?? [] }, 'observing');
    const expiry = setInterval(() => print(view.expire(BigInt(Date.now()) * 1_000_000n)), 1000);
    ctx.signal.addEventListener('abort', () => finish(), { once: true });
    await (durationMs > 0 ? Promise.race([finished, sleep(durationMs)]) : finished);
    clearInterval(expiry);
    await pipeline.stop();
    return 0;
  },
};
