/**
 * A span as the linker sees it: the few fields it reads, read from the bytes the span came in, and the
 * linked span written back from those bytes with the linker's changes (trace id, span id, parent, link,
 * attributes), every other field copied (schemas/record-splice.ts).
 *
 * Why: decoding each span whole and encoding it again was a fifth of the linker's CPU per span
 * (docs/benchmarks.md, trace-linker), for fields it never looks at. The bytes out are the same as
 * before: a span the splicer cannot copy exactly (written with another version of the span schema, or
 * not in avsc's own form) is decoded and encoded whole, as it always was.
 */
import { type Codec, codecFor } from '../../schemas/codec.ts';
import { RecordSplicer, type ScannedRecord } from '../../schemas/record-splice.ts';
import { schemaRegistry } from '../../schemas/registry.ts';
import type { LinkInfo, Span, SpanKind } from '../../schemas/types.ts';
import type { ProcessorContext } from '../runtime/definition.ts';

/** What emitting a span needs of the handler's context. */
type Emitter = Pick<ProcessorContext<unknown>, 'emit' | 'emitEncoded'>;

/** What the linker reads of a span: a decoded `Span` has it, and so does a scanned one. */
export interface SpanView {
  traceId: string;
  spanId: string;
  parentSpanId: string | null;
  kind: SpanKind;
  startTimeUnixNano: bigint;
  endTimeUnixNano: bigint;
  local: { node: string; pid: number; tid: number };
  link: LinkInfo;
  connectionKey: string;
}

/** A span read from its bytes, not decoded. */
interface ScannedSpan extends SpanView {
  scanned: ScannedRecord;
  /** The attributes it came with (re-encoded with the linker's). */
  attributes: Record<string, string>;
}

/** The linker's changes to a span, emitted with it. */
export interface Linked {
  spanId: string;
  parentSpanId: string | null;
  link: LinkInfo;
  attributes: Record<string, string>;
}

const CAPTURES = [
  'traceId',
  'spanId',
  'parentSpanId',
  'kind',
  'startTimeUnixNano',
  'endTimeUnixNano',
  'local.node',
  'local.pid',
  'local.tid',
  'link.method',
  'link.confidence',
  'connectionKey',
  'attributes',
] as const;
/** Written anew by every splice, in this order; attributes also read by avsc (any map it reads, re-encoded whole). */
const CHANGED = ['traceId', 'spanId', 'parentSpanId', 'link', 'attributes'];
const DECODED = ['attributes'];

interface Splicing {
  codec: Codec<Span>;
  splicer: RecordSplicer;
  sameSchema: (id: number) => boolean;
  /** The values of CHANGED, for one splice at a time. */
  changes: unknown[];
}

let splicing: Splicing | undefined;
function spans(): Splicing {
  if (splicing === undefined) {
    const registry = schemaRegistry();
    const codec = codecFor<Span>('span', registry);
    const splicer = new RecordSplicer(codec.schema, {
      captures: CAPTURES,
      changed: CHANGED,
      decoded: DECODED,
    });
    splicing = {
      codec,
      splicer,
      // The span schema under any id it has (its fingerprint, or a Schema Registry's id).
      sameSchema: (id) => id === codec.schema.id || (registry.has(id) && registry.byId(id) === codec.schema),
      changes: [],
    };
  }
  return splicing;
}

/** The span in `bytes` (the wire format): scanned when it can be spliced, else decoded. */
export function readSpan(bytes: Buffer): SpanView {
  const s = spans();
  const scanned = s.splicer.scan(bytes, s.sameSchema);
  if (scanned === null) return s.codec.decode(bytes);
  const v = scanned.values;
  const span: ScannedSpan = {
    traceId: v[0] as string,
    spanId: v[1] as string,
    parentSpanId: v[2] as string | null,
    kind: v[3] as SpanKind,
    startTimeUnixNano: v[4] as bigint,
    endTimeUnixNano: v[5] as bigint,
    local: { node: v[6] as string, pid: v[7] as number, tid: v[8] as number },
    link: { method: v[9] as LinkInfo['method'], confidence: v[10] as number },
    connectionKey: v[11] as string,
    attributes: v[12] as Record<string, string>,
    scanned,
  };
  return span;
}

/** Emits the span linked: with the linker's changes and its trace id, to `spans` keyed by the trace id. */
export function emitLinked(
  ctx: Emitter,
  span: SpanView,
  bytes: Buffer,
  linked: Linked,
  traceId: string,
): void {
  const scanned = (span as Partial<ScannedSpan>).scanned;
  if (scanned !== undefined) {
    const s = spans();
    const attributes = (span as ScannedSpan).attributes;
    for (const name in linked.attributes) attributes[name] = linked.attributes[name]!;
    const changes = s.changes;
    changes[0] = traceId;
    changes[1] = linked.spanId;
    changes[2] = linked.parentSpanId;
    changes[3] = linked.link;
    changes[4] = attributes;
    let out: Buffer | undefined;
    try {
      out = s.splicer.splice(scanned, changes);
    } catch {
      // A change avsc cannot write: decoded and encoded whole below, which says what is wrong.
    }
    if (out !== undefined) {
      ctx.emitEncoded('spans', traceId, out);
      return;
    }
    span = spans().codec.decode(bytes);
  }
  const full = span as Span;
  full.spanId = linked.spanId;
  full.parentSpanId = linked.parentSpanId;
  full.link = linked.link;
  for (const name in linked.attributes) full.attributes[name] = linked.attributes[name]!;
  full.traceId = traceId;
  ctx.emit('spans', traceId, full);
}
