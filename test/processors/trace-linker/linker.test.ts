/** trace-linker handlers on hand-built spans: causality choices, boundaries, timeouts, bounds. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { testProcessor } from '../../../processors/runtime/test-context.ts';
import { chooseCausalParent } from '../../../processors/trace-linker/causality.ts';
import traceLinker from '../../../processors/trace-linker/index.ts';
import {
  MAX_BUCKET_SERVERS,
  MAX_WAITING_CHILDREN,
  WHEEL_PART_KEYS,
} from '../../../processors/trace-linker/state.ts';
import { codecFor } from '../../../schemas/codec.ts';
import type { Span, TraceLinkingEvent } from '../../../schemas/types.ts';
import { SPAN } from '../../../testkit/fixtures.ts';

const T0 = 1_796_000_000_000_000_000n;
const MS = 1_000_000n;
const spanCodec = codecFor<Span>('span');
let ids = 0;

interface SpanSpec {
  kind: 'SERVER' | 'CLIENT';
  startMs: number;
  endMs: number;
  pid?: number;
  tid?: number;
  node?: string;
  service?: string;
  parent?: string;
  traceId?: string;
  conn?: string;
  id?: string;
}

function span(spec: SpanSpec): Span {
  const id = spec.id ?? (++ids).toString(16).padStart(16, 'a');
  return {
    ...structuredClone(SPAN),
    traceId: spec.traceId ?? '',
    spanId: id,
    parentSpanId: spec.parent ?? null,
    kind: spec.kind,
    name: `GET /${id}`,
    startTimeUnixNano: T0 + BigInt(spec.startMs) * MS,
    endTimeUnixNano: T0 + BigInt(spec.endMs) * MS,
    local: {
      ...SPAN.local,
      node: spec.node ?? 'node-a',
      pid: spec.pid ?? 100,
      tid: spec.tid ?? 0,
      service: spec.service ?? 'svc',
    },
    link:
      spec.parent === undefined
        ? { method: 'NONE', confidence: 0 }
        : { method: 'TCP_CONNECTION', confidence: 0.95 },
    connectionKey: spec.conn ?? `conn-${id}`,
    attributes: {},
  };
}

function linking(
  s: Span,
  parentNode: string | null = null,
  causalCandidates: number | null = null,
): TraceLinkingEvent {
  return {
    kind: 'SPAN',
    node: s.local.node,
    span: spanCodec.encode(s),
    parentNode,
    spanId: null,
    traceId: null,
    replyTo: null,
    causalCandidates,
  };
}

function linker(config: Record<string, unknown> = {}) {
  const t = testProcessor(traceLinker, {
    config: { causalityWaitMs: 1_000, ...config },
    now: 1_796_000_000_000,
  });
  const send = (...spans: Span[]) => {
    for (const s of spans) t.process(linking(s), { key: s.local.node });
  };
  const wait = (ms: number) => {
    t.advance(ms);
    t.punctuate();
  };
  const out = () => t.emitted.filter((e) => e.topic.endsWith('.spans.v2')).map((e) => e.value as Span);
  const byId = (id: string) => {
    const found = out().filter((s) => s.spanId === id);
    assert.equal(found.length, 1, `span ${id} emitted once`);
    return found[0]!;
  };
  /** A CLIENT span with the collector's count of its possible causes. */
  const sendHinted = (s: Span, causes: number) => t.process(linking(s, null, causes), { key: s.local.node });
  return { t, send, sendHinted, wait, out, byId };
}

describe('trace-linker: causality inside a process', () => {
  test('one containing server span: it is the parent, and the trace id is inherited', () => {
    const l = linker();
    const server = span({ kind: 'SERVER', startMs: 0, endMs: 10 });
    const client = span({ kind: 'CLIENT', startMs: 2, endMs: 8 });
    l.send(client, server); // the client ends first, so it usually arrives first
    assert.equal(l.out().length, 1, 'the root server span is out at once');
    l.wait(1_000);
    const c = l.byId(client.spanId);
    assert.equal(c.parentSpanId, server.spanId);
    assert.equal(c.link.method, 'PROCESS_CAUSALITY');
    assert.equal(c.link.confidence, 0.9);
    assert.equal(c.traceId, l.byId(server.spanId).traceId);
  });

  test('two overlapping server spans in one process: the containing one is picked', () => {
    const l = linker();
    const early = span({ kind: 'SERVER', startMs: 0, endMs: 10 });
    const late = span({ kind: 'SERVER', startMs: 5, endMs: 20 });
    const inBoth = span({ kind: 'CLIENT', startMs: 6, endMs: 9 });
    const onlyInLate = span({ kind: 'CLIENT', startMs: 12, endMs: 15 });
    const onlyInEarly = span({ kind: 'CLIENT', startMs: 1, endMs: 4 });
    l.send(inBoth, onlyInLate, onlyInEarly, early, late);
    l.wait(1_000);
    assert.equal(l.byId(onlyInLate.spanId).parentSpanId, late.spanId);
    assert.equal(l.byId(onlyInLate.spanId).link.confidence, 0.9);
    assert.equal(l.byId(onlyInEarly.spanId).parentSpanId, early.spanId);
    const ambiguous = l.byId(inBoth.spanId);
    assert.equal(ambiguous.parentSpanId, late.spanId, 'the most recently started of the two');
    assert.ok(ambiguous.link.confidence < 0.5, `confidence ${ambiguous.link.confidence}`);
    assert.equal(ambiguous.attributes['meshpipe.link.candidates'], '2');
  });

  test('the same thread decides between concurrent server spans', () => {
    const l = linker();
    const a = span({ kind: 'SERVER', startMs: 0, endMs: 20, tid: 11 });
    const b = span({ kind: 'SERVER', startMs: 1, endMs: 20, tid: 12 });
    const call = span({ kind: 'CLIENT', startMs: 5, endMs: 6, tid: 11 });
    l.send(a, b, call);
    l.wait(1_000);
    const c = l.byId(call.spanId);
    assert.equal(c.parentSpanId, a.spanId, 'thread 11 served a');
    assert.equal(c.link.confidence, 0.8);
  });

  test('never across processes or nodes, never without time containment', () => {
    const l = linker();
    const server = span({ kind: 'SERVER', startMs: 0, endMs: 10, pid: 100 });
    const otherPid = span({ kind: 'CLIENT', startMs: 2, endMs: 3, pid: 101 });
    const otherNode = span({ kind: 'CLIENT', startMs: 2, endMs: 3, pid: 100, node: 'node-z' });
    const after = span({ kind: 'CLIENT', startMs: 11, endMs: 12, pid: 100 });
    const overlapping = span({ kind: 'CLIENT', startMs: 8, endMs: 12, pid: 100 });
    const before = span({ kind: 'CLIENT', startMs: -5, endMs: -1, pid: 100 });
    l.send(server, otherPid, otherNode, after, overlapping, before);
    l.wait(1_000);
    for (const s of [otherPid, otherNode, after, overlapping, before]) {
      const out = l.byId(s.spanId);
      assert.equal(out.parentSpanId, null, `${s.spanId} stays a root`);
      assert.equal(out.link.method, 'NONE');
      assert.notEqual(out.traceId, l.byId(server.spanId).traceId);
    }
  });

  test('a call carrying a traceparent only links to a cause in the same trace', () => {
    const l = linker();
    const T = 'abcdefabcdefabcdefabcdefabcdef01';
    const plain = span({ kind: 'SERVER', startMs: 0, endMs: 10 });
    const call = span({ kind: 'CLIENT', startMs: 2, endMs: 3, traceId: T });
    l.send(plain, call);
    l.wait(1_000);
    const c = l.byId(call.spanId);
    assert.equal(c.traceId, T, 'the header decides the trace');
    assert.equal(c.parentSpanId, null, 'a cause in another trace would make a broken tree');
  });

  test('chooseCausalParent: connection reuse narrows, and ties are broken deterministically', () => {
    const s = (spanId: string, start: bigint, end: bigint, childConns: string[] = []) => ({
      spanId,
      startNs: start,
      endNs: end,
      tid: 0,
      headerTrace: null,
      childConns,
    });
    const call = { startNs: 5n, endNs: 6n, tid: 0, connectionKey: 'k' };
    assert.deepEqual(chooseCausalParent(call, [s('a', 0n, 10n, ['k']), s('b', 1n, 10n)]), {
      spanId: 'a',
      confidence: 0.8,
      containing: 2,
    });
    const tie = chooseCausalParent(call, [s('b', 1n, 10n), s('a', 1n, 10n)]);
    assert.equal(tie?.spanId, 'a');
    assert.equal(chooseCausalParent(call, [s('x', 6n, 10n)]), null);
  });
});

describe('trace-linker: causality by completion (the collector counted the causes)', () => {
  test('no possible cause: the CLIENT span is a root at once, no wait', () => {
    const l = linker({ causalityWaitMs: 5_000 });
    const client = span({ kind: 'CLIENT', startMs: 2, endMs: 8 });
    l.sendHinted(client, 0);
    const c = l.byId(client.spanId);
    assert.equal(c.link.method, 'NONE');
    assert.equal(c.parentSpanId, null);
    assert.equal(l.t.counters()['causality.decided_on_arrival'], 1);
  });

  test('its one cause arrives later: decided at the next punctuation, long before causalityWaitMs', () => {
    const l = linker({ causalityWaitMs: 5_000, punctuateMs: 100 });
    const server = span({ kind: 'SERVER', startMs: 0, endMs: 10 });
    const client = span({ kind: 'CLIENT', startMs: 2, endMs: 8 });
    l.sendHinted(client, 1);
    l.wait(100);
    assert.equal(l.out().length, 0, 'waits while its cause has not arrived');
    l.send(server);
    l.wait(100);
    const c = l.byId(client.spanId);
    assert.equal(c.parentSpanId, server.spanId);
    assert.equal(c.link.method, 'PROCESS_CAUSALITY');
    assert.equal(c.traceId, l.byId(server.spanId).traceId);
    assert.equal(l.t.counters()['causality.decided_on_causes'], 1);
  });

  test('its causes arrived first: decided on arrival, among all of them', () => {
    const l = linker({ causalityWaitMs: 5_000 });
    const a = span({ kind: 'SERVER', startMs: 0, endMs: 10 });
    const b = span({ kind: 'SERVER', startMs: 1, endMs: 12 });
    const client = span({ kind: 'CLIENT', startMs: 2, endMs: 8 });
    l.send(a, b);
    l.sendHinted(client, 2);
    const c = l.byId(client.spanId);
    assert.equal(c.parentSpanId, b.spanId, 'the most recently started');
    assert.equal(c.attributes['meshpipe.link.candidates'], '2');
  });

  test('a counted cause never arrives: decided with what came, at causalityWaitMs', () => {
    const l = linker({ causalityWaitMs: 1_000, punctuateMs: 100 });
    const server = span({ kind: 'SERVER', startMs: 0, endMs: 10 });
    const client = span({ kind: 'CLIENT', startMs: 2, endMs: 8 });
    l.sendHinted(client, 2);
    l.send(server);
    for (let i = 0; i < 5; i++) l.wait(100);
    assert.equal(l.out().filter((s) => s.spanId === client.spanId).length, 0, 'still waiting for the second');
    for (let i = 0; i < 6; i++) l.wait(100);
    assert.equal(l.byId(client.spanId).parentSpanId, server.spanId);
    assert.equal(l.t.counters()['causality.decided_by_timer'], 1);
  });
});

describe('trace-linker: waiting, bounded', () => {
  test('a parent whose trace never comes: the span becomes a root with confidence 0, after resolveTimeoutMs', () => {
    const l = linker({ resolveTimeoutMs: 3_000 });
    const orphan = span({ kind: 'SERVER', startMs: 0, endMs: 1, parent: 'ffffffffffffffff', node: 'node-a' });
    l.t.process(linking(orphan, 'node-far'), { key: 'node-a' });
    const asks = l.t.emitted.filter((e) => (e.value as TraceLinkingEvent).kind === 'RESOLVE_REQUEST');
    assert.equal(asks.length, 1);
    assert.equal(asks[0]!.key, 'node-far');
    l.wait(2_999);
    assert.equal(l.out().length, 0);
    l.wait(1);
    const s = l.byId(orphan.spanId);
    assert.equal(s.parentSpanId, null);
    assert.deepEqual([s.link.method, s.link.confidence], ['NONE', 0]);
    assert.equal(s.attributes['meshpipe.link.unresolved_parent'], 'ffffffffffffffff');
    assert.equal(s.attributes['meshpipe.link.unresolved_method'], 'TCP_CONNECTION');
    assert.equal(l.t.counters()['roots.unresolved.timeout'], 1);
  });

  test('a question about a span that has not arrived is answered when it resolves', () => {
    const l = linker();
    const server = span({ kind: 'SERVER', startMs: 0, endMs: 10, node: 'node-a' });
    const ask: TraceLinkingEvent = {
      kind: 'RESOLVE_REQUEST',
      node: 'node-a',
      span: null,
      parentNode: null,
      spanId: server.spanId,
      traceId: null,
      replyTo: 'node-b',
      causalCandidates: null,
    };
    l.t.process(ask, { key: 'node-a' });
    assert.equal(l.t.emitted.length, 0);
    l.send(server);
    const answer = l.t.emitted.find((e) => (e.value as TraceLinkingEvent).kind === 'RESOLVED');
    assert.ok(answer);
    assert.equal(answer.key, 'node-b');
    assert.equal((answer.value as TraceLinkingEvent).traceId, l.byId(server.spanId).traceId);
  });

  test('over maxPendingSpans the oldest are decided at once; every span still comes out once', () => {
    const l = linker({ maxPendingSpans: 10, causalityWaitMs: 60_000 });
    const n = 40;
    for (let i = 0; i < n; i++) l.send(span({ kind: 'CLIENT', startMs: i * 10, endMs: i * 10 + 1 }));
    assert.ok(l.out().length >= n - 10, `at most the bound waits (${l.out().length} out)`);
    assert.ok((l.t.counters().forced_by_memory ?? 0) >= n - 10);
    l.wait(60_000);
    assert.equal(l.out().length, n);
    assert.equal(new Set(l.out().map((s) => s.spanId)).size, n);
  });

  test('resolved spans are forgotten after retainMs; state drains', () => {
    const l = linker({ retainMs: 1_000 });
    l.send(span({ kind: 'SERVER', startMs: 0, endMs: 1 }), span({ kind: 'CLIENT', startMs: 5, endMs: 6 }));
    l.wait(1_000);
    l.wait(70_000);
    const left = [...l.t.stores.entries.keys()].filter((k) => k !== 'm');
    assert.deepEqual(left, []);
  });

  test('a punctuation early in the slot of a deadline keeps it: the deadline is still met, and state drains', () => {
    // Punctuations fall anywhere in a 100 ms wheel slot (a host's timer has its own phase). One that
    // came before a deadline in its own slot used to drop the slot with the entry in it, so the span
    // waited forever (and its trace-id questions went unanswered).
    const l = linker({ retainMs: 2_000, resolveTimeoutMs: 3_000 });
    const server = span({ kind: 'SERVER', startMs: 0, endMs: 10 });
    const client = span({ kind: 'CLIENT', startMs: 2, endMs: 8 });
    const orphan = span({ kind: 'SERVER', startMs: 20, endMs: 21, parent: 'eeeeeeeeeeeeeeee' });
    l.t.advance(50);
    l.send(client); // decided at +1050
    l.send(server);
    l.t.process(linking(orphan, 'node-far'), { key: 'node-a' }); // gives up at +3050
    l.wait(960); // +1010: the deadline's slot, before the deadline
    assert.equal(l.out().length, 1, 'only the root server span so far');
    l.wait(50); // +1060
    assert.equal(l.byId(client.spanId).parentSpanId, server.spanId);
    l.wait(1_980); // +3040: the orphan's slot, before its deadline
    assert.equal(l.out().length, 2);
    l.wait(20); // +3060
    assert.equal(l.byId(orphan.spanId).link.method, 'NONE');
    assert.equal(l.t.counters()['roots.unresolved.timeout'], 1);
    // Every entry goes once its time is up, whatever the phase: spans and the remote parent first,
    // then the candidate buckets (kept for the longest server span) and their wheel slots.
    for (let i = 0; i < 200; i++) l.wait(37);
    assert.deepEqual(
      [...l.t.stores.entries.keys()].filter((k) => k.startsWith('s:') || k.startsWith('x:')),
      [],
    );
    for (let i = 0; i < 2_000; i++) l.wait(37);
    assert.deepEqual(
      [...l.t.stores.entries.keys()].filter((k) => k !== 'm'),
      [],
    );
  });

  /** The largest state value, encoded as the changelog holds it. */
  function largestValue(l: ReturnType<typeof linker>): { key: string; bytes: number } {
    const codec = traceLinker.stores!.entries.codec();
    let largest = { key: '', bytes: 0 };
    for (const key of l.t.stores.entries.keys()) {
      const bytes = codec.encode(l.t.stores.entries.get(key)!).length;
      if (bytes > largest.bytes) largest = { key, bytes };
    }
    return largest;
  }

  test('a burst of spans at one instant (a backlog caught up) spreads its wheel slot over more keys', () => {
    // Every span of the burst is due in the same 100 ms slot. One slot used to be one value, 21 bytes a
    // span: past the changelog's 1 MB at about 50 000 spans (a few seconds of catching up), and
    // rewritten whole at every insertion. Now no value grows with the burst.
    const l = linker({ maxPendingSpans: 100_000 });
    const n = 5 * WHEEL_PART_KEYS;
    for (let i = 0; i < n; i++)
      l.send(span({ kind: 'CLIENT', startMs: i, endMs: i + 1, pid: 300 + (i % 50) }));
    const largest = largestValue(l);
    assert.ok(largest.bytes < 16_384, `${largest.key} is ${largest.bytes} bytes`);
    assert.ok(
      [...l.t.stores.entries.keys()].some((k) => /^w:\d+:4$/.test(k)),
      'the slot continued in parts',
    );
    l.wait(1_000);
    assert.equal(new Set(l.out().map((s) => s.spanId)).size, n, 'every span out once');
    for (let i = 0; i < 1_000; i++) l.wait(100);
    assert.deepEqual(
      [...l.t.stores.entries.keys()].filter((k) => k.startsWith('w:')),
      [],
      'the parts go with their slot',
    );
  });

  test('a fan-out past the bound: the excess waiting children come out at once as roots; nothing is lost', () => {
    const l = linker();
    // A SERVER span waiting for its own parent (not arrived yet), and more calls made while serving it
    // than may wait for its trace id.
    const parent = span({ kind: 'CLIENT', startMs: 0, endMs: 20_000, pid: 50, id: '5555555555555555' });
    const server = span({ kind: 'SERVER', startMs: 10, endMs: 9_990, parent: parent.spanId });
    const calls = Array.from({ length: MAX_WAITING_CHILDREN + 76 }, (_, i) =>
      span({ kind: 'CLIENT', startMs: 20 + i * 5, endMs: 21 + i * 5 }),
    );
    l.send(server, ...calls);
    l.wait(1_000);
    assert.equal(l.t.counters()['roots.unresolved.fanout'], 76);
    assert.ok(largestValue(l).bytes < 65_536, `largest: ${JSON.stringify(largestValue(l))}`);
    l.send(parent);
    l.wait(1_000);
    const out = l.out();
    assert.equal(new Set(out.map((s) => s.spanId)).size, calls.length + 2, 'every span out once');
    assert.equal(out.length, calls.length + 2);
    const trace = l.byId(server.spanId).traceId;
    const linked = calls.filter((c) => l.byId(c.spanId).traceId === trace);
    assert.equal(linked.length, MAX_WAITING_CHILDREN, 'those that waited inherit the trace');
    const early = calls.map((c) => l.byId(c.spanId)).filter((c) => c.traceId !== trace);
    for (const c of early) {
      assert.equal(c.attributes['meshpipe.link.unresolved_reason'], 'fanout');
      assert.equal(c.attributes['meshpipe.link.unresolved_parent'], server.spanId);
    }
  });

  test('a bucket of SERVER spans past the bound: the excess is emitted, only not indexed as causes', () => {
    const l = linker();
    const n = MAX_BUCKET_SERVERS + 10;
    // All start within one 10 ms bucket of tier 0.
    for (let i = 0; i < n; i++) l.send(span({ kind: 'SERVER', startMs: i % 10, endMs: 50 }));
    assert.equal(l.out().length, n);
    assert.equal(l.t.counters().causality_index_full, 10);
    assert.ok(largestValue(l).bytes < 262_144, `largest: ${JSON.stringify(largestValue(l))}`);
  });

  test('a duplicate span is counted and ignored', () => {
    const l = linker();
    const s = span({ kind: 'SERVER', startMs: 0, endMs: 1 });
    l.send(s, s);
    assert.equal(l.out().length, 1);
    assert.equal(l.t.counters().duplicate_spans, 1);
  });

  test('two calls reusing one traceparent parent-id (a retry) both come out, the second re-identified', () => {
    const l = linker();
    const T = 'abcdefabcdefabcdefabcdefabcdef02';
    const first = span({ kind: 'CLIENT', startMs: 0, endMs: 1, traceId: T, id: '3333333333333333' });
    const retry = span({ kind: 'CLIENT', startMs: 5, endMs: 6, traceId: T, id: '3333333333333333' });
    l.send(first, retry);
    l.wait(1_000);
    const out = l.out();
    assert.equal(out.length, 2);
    const again = out.find((s) => s.spanId !== '3333333333333333')!;
    assert.equal(again.attributes['meshpipe.span_id.original'], '3333333333333333');
    assert.equal(again.traceId, T);
    assert.equal(l.t.counters().span_ids_reused, 1);
  });
});
