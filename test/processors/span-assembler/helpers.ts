/** Feeding raw events through span-assembler and reading back the spans it sent to the linker. */
import type { ProcessorTest } from '../../../processors/runtime/test-context.ts';
import { testProcessor } from '../../../processors/runtime/test-context.ts';
import type { AssemblerConfig } from '../../../processors/span-assembler/config.ts';
import spanAssembler from '../../../processors/span-assembler/index.ts';
import type { assemblerStores } from '../../../processors/span-assembler/state.ts';
import { codecFor } from '../../../schemas/codec.ts';
import type { L7RawEvent, Span, TraceLinkingEvent } from '../../../schemas/types.ts';

/** The runtime's in-memory test context, plus a cursor over what was already taken. */
export interface AssemblerTest extends ProcessorTest<AssemblerConfig, typeof assemblerStores> {
  taken: number;
  counter(name: string): number;
}

export const START_MS = 1_796_000_000_000;

export function assemblerContext(config: Partial<AssemblerConfig> = {}): AssemblerTest {
  const t = testProcessor(spanAssembler, { config, now: START_MS }) as AssemblerTest;
  t.taken = 0;
  t.counter = (name) => t.counters()[name] ?? 0;
  return t;
}

export function feed(t: AssemblerTest, events: readonly L7RawEvent[]): void {
  for (const ev of events) t.process(ev, { key: ev.connection.key });
}

/** Runs punctuate after moving the clock forward by `ms`. */
export function tick(t: AssemblerTest, ms: number): void {
  t.advance(ms);
  t.punctuate();
}

const spanCodec = codecFor<Span>('span');

export interface LinkedOut {
  span: Span;
  parentNode: string | null;
  key: string | null;
}

/** The spans emitted since the last call (decoded from their linking envelopes). */
export function takeSpans(t: AssemblerTest): LinkedOut[] {
  const fresh = t.emitted.slice(t.taken);
  t.taken = t.emitted.length;
  return fresh.map((e) => {
    const v = e.value as TraceLinkingEvent;
    return { span: spanCodec.decode(v.span!), parentNode: v.parentNode, key: e.key };
  });
}

/** Feeds everything, then lets every wait expire, and returns all spans. */
export function assembleAll(
  events: readonly L7RawEvent[],
  config: Partial<AssemblerConfig> = {},
): { ctx: AssemblerTest; spans: Span[]; out: LinkedOut[] } {
  const ctx = assemblerContext(config);
  feed(ctx, events);
  tick(ctx, ctx.config.pairWaitMs + 1);
  const out = takeSpans(ctx);
  return { ctx, spans: out.map((o) => o.span), out };
}

/** Interleaves several event lists by time, as one partition would see them. */
export function byTime(...lists: L7RawEvent[][]): L7RawEvent[] {
  return lists
    .flat()
    .sort((a, b) => (a.timeUnixNano < b.timeUnixNano ? -1 : a.timeUnixNano > b.timeUnixNano ? 1 : 0));
}
