/**
 * The linker against the implementation it replaced (reference/, kept unchanged as the oracle) on
 * random streams: the same records out, in the same order, and the same counters. The new one finds
 * causes through an index instead of scanning, keeps spans as bytes and finds the oldest waiting spans
 * in arrival lists; none of that may change a single linking choice, confidence, trace id, timeout or
 * forced decision. Both run in the runtime's InMemoryPipeline (partitions by node, trace-id questions
 * and answers delivered back through the linking topic, punctuations on the record clock).
 *
 * The streams mix what the linker meets: several nodes, processes and threads; SERVER spans of every
 * duration tier (and longer than maxServerSpanMs), CLIENT calls inside them, on reused connections;
 * TCP parents on the same and on other nodes, traceparents, duplicates, span ids reused by retries,
 * questions about spans that never come; spans arriving late and out of order, gaps in time that run
 * out every wait; and configs small enough to hit the memory bound and the retention.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { createLogger } from '../../../lib/logger.ts';
import { seededRandom } from '../../../lib/seeded-random.ts';
import { resolveProcessorSettings } from '../../../processors/runtime/config.ts';
import type { AnyProcessorDefinition, ProcessorContext } from '../../../processors/runtime/definition.ts';
import { type InMemoryOutput, InMemoryPipeline } from '../../../processors/runtime/in-memory-runner.ts';
import type { StoreTypes } from '../../../processors/runtime/store-types.ts';
import traceLinker from '../../../processors/trace-linker/index.ts';
import { codecFor } from '../../../schemas/codec.ts';
import { TOPICS } from '../../../schemas/topics.ts';
import type { Span, TraceLinkingEvent } from '../../../schemas/types.ts';
import { SPAN } from '../../../testkit/fixtures.ts';
import referenceLinker from '../../../testkit/reference/trace-linker/index.ts';

const PREFIX = 'meshpipe';
const LINKING = `${PREFIX}.${TOPICS.linking.suffix}`;
const MS = 1_000_000n;
const T0_MS = 1_796_000_000_000;
const spanCodec = codecFor<Span>('span');
const linkingCodec = codecFor<TraceLinkingEvent>('trace-linking-event');

interface Arrival {
  atMs: number;
  node: string;
  event: TraceLinkingEvent;
}

const hex = (rand: () => number, n: number) => {
  let s = '';
  for (let i = 0; i < n; i++) s += Math.floor(rand() * 16).toString(16);
  return s;
};

/** A random stream of linking records, in arrival order. */
function randomStream(seed: number, size: number): Arrival[] {
  const rand = seededRandom(seed);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)]!;
  const nodes = ['node-a', 'node-b', 'node-c'].slice(0, 1 + Math.floor(rand() * 3));
  const pids = [100, 200, 300].slice(0, 1 + Math.floor(rand() * 3));
  const traces = Array.from({ length: 4 }, () => hex(rand, 32));
  const arrivals: Arrival[] = [];
  const clients: Span[] = [];
  const sent: Arrival[] = [];
  let clockMs = 0;
  const durationMs = () => {
    const r = rand();
    if (r < 0.6) return rand() * 8;
    if (r < 0.8) return 100 + rand() * 900;
    if (r < 0.9) return 1_000 + rand() * 9_000;
    if (r < 0.97) return 10_000 + rand() * 60_000;
    return rand() < 0.5 ? 0 : -rand(); // no duration, or an end before the start
  };
  // Times on whole milliseconds in some streams: boundaries meet exactly (a call that starts as its
  // cause does, or ends as it ends; a span on a bucket's edge).
  const grain = rand() < 0.5 ? 1e6 : 1;
  const ns = (ms: number) => BigInt(Math.round((ms * 1e6) / grain) * grain);
  const base = (
    kind: 'SERVER' | 'CLIENT',
    node: string,
    pid: number,
    startMs: number,
    lengthMs: number,
  ): Span => {
    const start = BigInt(T0_MS) * MS + ns(startMs);
    return {
      ...structuredClone(SPAN),
      traceId: '',
      spanId: hex(rand, 16),
      parentSpanId: null,
      kind,
      name: `GET /${kind}`,
      startTimeUnixNano: start,
      endTimeUnixNano: start + ns(lengthMs),
      local: { ...SPAN.local, node, pid, tid: rand() < 0.3 ? 0 : pid + Math.floor(rand() * 3) },
      link: { method: 'NONE', confidence: 0 },
      connectionKey: `conn-${Math.floor(rand() * 6)}`,
      attributes: rand() < 0.2 ? { 'http.request.header.x': 'y' } : {},
    };
  };
  const send = (s: Span, afterMs: number, parentNode: string | null = null) => {
    const endMs = Number(s.endTimeUnixNano / MS) - T0_MS;
    const a: Arrival = {
      atMs: Math.max(endMs, clockMs) + afterMs,
      node: s.local.node,
      event: {
        kind: 'SPAN',
        node: s.local.node,
        span: spanCodec.encode(s),
        parentNode,
        spanId: null,
        traceId: null,
        replyTo: null,
        causalCandidates: null,
      },
    };
    arrivals.push(a);
    sent.push(a);
  };
  for (let i = 0; i < size; i++) {
    // Time moves on, now and then by more than every wait.
    clockMs += rand() < 0.02 ? 20_000 + rand() * 100_000 : rand() * 30;
    const node = pick(nodes);
    const pid = pick(pids);
    const r = rand();
    if (r < 0.35) {
      // A SERVER span, with the calls it makes.
      const length = durationMs();
      const server = base('SERVER', node, pid, clockMs, length);
      const traced = rand() < 0.15;
      let parentNode: string | null = null;
      if (traced) {
        server.traceId = pick(traces);
        server.link = { method: 'TRACEPARENT', confidence: 1 };
        server.parentSpanId = hex(rand, 16);
      } else if (clients.length > 0 && rand() < 0.5) {
        const parent = pick(clients);
        server.parentSpanId = parent.spanId;
        server.link = { method: 'TCP_CONNECTION', confidence: 0.95 };
        parentNode = parent.local.node;
      }
      send(server, rand() * 3_000, parentNode);
      const calls = Math.floor(rand() * 3);
      for (let c = 0; c < calls && length > 0; c++) {
        const from = rand() < 0.2 ? 0 : rand() * length;
        const call = base(
          'CLIENT',
          node,
          pid,
          clockMs + from,
          rand() < 0.2 ? length - from : rand() * (length - from),
        );
        if (rand() < 0.6) call.local.tid = server.local.tid;
        if (traced && rand() < 0.7) call.traceId = server.traceId;
        clients.push(call);
        send(call, rand() * 2_000);
      }
    } else if (r < 0.7) {
      // A CLIENT span of its own (contained by whatever the process served at the time, or nothing).
      const call = base('CLIENT', node, pid, clockMs - rand() * 50, rand() * 20);
      if (rand() < 0.1) call.traceId = pick(traces);
      clients.push(call);
      send(call, rand() * 2_000);
    } else if (r < 0.78 && sent.length > 0) {
      // A duplicate (a replayed input).
      const again = pick(sent);
      arrivals.push({ ...again, atMs: clockMs + rand() * 1_000 });
    } else if (r < 0.84 && clients.length > 0) {
      // A retry reusing a traceparent's parent-id: the same span id, another call.
      const first = pick(clients);
      const retry = base('CLIENT', first.local.node, first.local.pid, clockMs, rand() * 5);
      retry.spanId = first.spanId;
      retry.traceId = first.traceId;
      send(retry, rand() * 500);
    } else if (r < 0.92) {
      // A question from another node, about a span that may or may not exist.
      const about = clients.length > 0 && rand() < 0.7 ? pick(clients).spanId : hex(rand, 16);
      const owner = clients.find((c) => c.spanId === about)?.local.node ?? node;
      arrivals.push({
        atMs: clockMs + rand() * 500,
        node: owner,
        event: {
          kind: 'RESOLVE_REQUEST',
          node: owner,
          span: null,
          parentNode: null,
          spanId: about,
          traceId: null,
          replyTo: pick(['node-x', 'node-y']),
          causalCandidates: null,
        },
      });
    } else {
      // An answer nobody asked for, or a record without what it needs.
      arrivals.push({
        atMs: clockMs,
        node,
        event: {
          kind: rand() < 0.5 ? 'RESOLVED' : 'SPAN',
          node,
          span: null,
          parentNode: null,
          spanId: rand() < 0.5 ? hex(rand, 16) : null,
          traceId: hex(rand, 32),
          replyTo: null,
          causalCandidates: null,
        },
      });
    }
  }
  return arrivals.sort((a, b) => a.atMs - b.atMs);
}

/** What a linker emitted, in order, and its counters. */
function run(linker: AnyProcessorDefinition, stream: Arrival[], config: Record<string, unknown>) {
  const outputs: InMemoryOutput[] = [];
  const counters: Record<string, number> = {};
  const counting = <C, S extends StoreTypes>(ctx: ProcessorContext<C, S>): ProcessorContext<C, S> => ({
    ...ctx,
    count: (name, by = 1) => {
      counters[name] = (counters[name] ?? 0) + by;
      ctx.count(name, by);
    },
  });
  const definition: AnyProcessorDefinition = {
    ...linker,
    process: (record, ctx) => linker.process(record, counting(ctx)),
    punctuate: {
      intervalMs: linker.punctuate!.intervalMs,
      run: (ctx) => linker.punctuate!.run(counting(ctx)),
    },
  };
  const pipeline = new InMemoryPipeline({
    stages: [
      {
        definition,
        config: resolveProcessorSettings(definition, { processors: { 'trace-linker': config } }).config,
      },
    ],
    prefix: PREFIX,
    partitionsOf: (d) => d.partitions,
    logger: createLogger({ component: 'test', level: 'silent' }),
    onOutput: (o) => outputs.push(o),
  });
  for (const a of stream)
    pipeline.push(LINKING, a.node, linkingCodec.encode(a.event), T0_MS + Math.round(a.atMs));
  pipeline.finish(150_000);
  return {
    outputs: outputs.map((o) => ({ topic: o.topic, partition: o.partition, key: o.key, value: o.value })),
    counters,
  };
}

const CONFIGS: Array<Record<string, unknown>> = [
  {},
  { causalityWaitMs: 300, resolveTimeoutMs: 700, retainMs: 1_500, punctuateMs: 100 },
  { maxPendingSpans: 10, causalityWaitMs: 2_000, punctuateMs: 50 },
  { maxPendingSpans: 25, retainMs: 0, maxServerSpanMs: 5_000, punctuateMs: 70 },
  { causalityWaitMs: 0, resolveTimeoutMs: 0, retainMs: 200, maxServerSpanMs: 30_000, punctuateMs: 333 },
];

describe('trace-linker: the same outputs as the implementation it replaced', () => {
  test('random streams, every config', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 31 }), fc.nat(CONFIGS.length - 1), (seed, c) => {
        const stream = randomStream(seed, 150);
        const config = CONFIGS[c]!;
        const expected = run(referenceLinker as unknown as AnyProcessorDefinition, stream, config);
        const actual = run(traceLinker as unknown as AnyProcessorDefinition, stream, config);
        assert.deepStrictEqual(actual, expected);
      }),
      { numRuns: 40 },
    );
  });

  test('longer streams: every rule at work, the memory bound reached', () => {
    const seen: Record<string, number> = {};
    for (const seed of [11, 12]) {
      const stream = randomStream(seed, 2_500);
      for (const config of [{}, { maxPendingSpans: 40, causalityWaitMs: 3_000 }]) {
        const expected = run(referenceLinker as unknown as AnyProcessorDefinition, stream, config);
        const actual = run(traceLinker as unknown as AnyProcessorDefinition, stream, config);
        assert.deepStrictEqual(actual, expected);
        for (const [name, n] of Object.entries(expected.counters)) seen[name] = (seen[name] ?? 0) + n;
      }
    }
    // The streams are worth comparing on: each of these happened.
    for (const name of [
      'links.process_causality',
      'links.process_causality_ambiguous',
      'links.tcp_connection',
      'links.traceparent',
      'roots.client',
      'roots.unresolved.timeout',
      'roots.unresolved.memory',
      'forced_by_memory',
      'resolve_requests_sent',
      'resolutions_sent',
      'duplicate_spans',
      'span_ids_reused',
    ]) {
      assert.ok((seen[name] ?? 0) > 0, `${name}: ${JSON.stringify(seen)}`);
    }
  });
});
