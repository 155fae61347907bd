/**
 * The compact raw-event batch (schemas/l7-raw-batch.avsc) and the complete events it stands for.
 *
 * A collector writes what is constant for a connection once per batch and per event only what changes
 * per syscall, with times and sequence numbers as deltas from the batch's bases (its own hot-path
 * writer is collectors/ship/raw-batch-writer.ts). Readers get complete `L7RawEvent`s back, exactly the
 * events a collector built: `expandRawBatch` here. `packRawBatches` is the general writer for tools
 * (replay, benchmarks, tests) that hold complete events.
 *
 * Expanded events share their connection, workload and (per thread) process objects: an event is
 * read-only for its readers (a handler that changes one changes its neighbours).
 */
import { ERRORS, MeshpipeError } from '../lib/errors.ts';
import type { L7RawBatch, L7RawEvent, PayloadSegment, ProcessIdentity, RawBatchConnection } from './types.ts';

/** int range of the per-event deltas (Avro int). */
const INT_MIN = -(2 ** 31);
const INT_MAX = 2 ** 31 - 1;

function corrupt(why: string): MeshpipeError {
  return new MeshpipeError(ERRORS.SCHEMA_DECODE_FAILED, ['dev.meshpipe.v1.L7RawBatch', why]);
}

/** The complete events of a decoded batch, in order. Throws SCHEMA_DECODE_FAILED on a bad index. */
export function expandRawBatch(batch: L7RawBatch): L7RawEvent[] {
  const { node, clockOffsetNs, baseMonotonicNs, baseSeq, connections, events } = batch;
  const out: L7RawEvent[] = new Array(events.length);
  // The process of the last event of each entry, reused while the thread does not change.
  const processes: ProcessIdentity[] = connections.map((c) => c.process);
  for (let i = 0; i < events.length; i++) {
    const e = events[i]!;
    const entry: RawBatchConnection | undefined = connections[e.connection];
    if (entry === undefined)
      throw corrupt(`event ${i} names connection ${e.connection}, the batch has ${connections.length}`);
    let process = processes[e.connection]!;
    if (process.tid !== e.tid) {
      process = { ...entry.process, tid: e.tid };
      processes[e.connection] = process;
    }
    const monotonicNs = baseMonotonicNs + BigInt(e.monotonicDeltaNs);
    const segments: PayloadSegment[] = new Array(e.segments.length);
    for (let j = 0; j < segments.length; j++) {
      const s = e.segments[j]!;
      segments[j] = { kind: s.kind, length: BigInt(s.length), data: s.data, endsMessage: s.endsMessage };
    }
    out[i] = {
      kind: e.kind,
      timeUnixNano: monotonicNs + clockOffsetNs,
      monotonicNs,
      node,
      seq: baseSeq + BigInt(e.seqDelta),
      process,
      workload: entry.workload,
      peer: entry.peer,
      connection: entry.connection,
      direction: e.direction,
      syscall: e.syscall,
      byteCount: BigInt(e.byteCount),
      protocol: e.protocol,
      segments,
      truncated: e.truncated,
      redactions: e.redactions,
      errno: e.errno,
      causalCandidates: e.causalCandidates,
      h2: e.h2,
    };
  }
  return out;
}

/** What must be equal for events to share one connection entry: everything but the thread. */
function entryKey(ev: L7RawEvent): string {
  const { tid: _tid, ...process } = ev.process;
  return JSON.stringify([ev.connection, process, ev.workload, ev.peer], (_k, v) =>
    typeof v === 'bigint' ? `${v}n` : v,
  );
}

const fitsInt = (n: bigint) => n >= BigInt(INT_MIN) && n <= BigInt(INT_MAX);

/**
 * Packs complete events into as few batches as the format allows, in order: a new batch starts where
 * the node or the clock offset changes, where a delta would leave the int range, or after `maxEvents`.
 * Every event must fit the compact form (byte counts and segment lengths below 2^31, as the kernel's
 * never exceed); one that does not throws SCHEMA_ENCODE_FAILED.
 */
export function packRawBatches(events: readonly L7RawEvent[], maxEvents = 2000): L7RawBatch[] {
  const batches: L7RawBatch[] = [];
  let batch: L7RawBatch | null = null;
  let entries = new Map<string, number>();
  for (const ev of events) {
    const offset = ev.timeUnixNano - ev.monotonicNs;
    if (
      batch === null ||
      batch.node !== ev.node ||
      batch.clockOffsetNs !== offset ||
      !fitsInt(ev.monotonicNs - batch.baseMonotonicNs) ||
      !fitsInt(ev.seq - batch.baseSeq) ||
      batch.events.length >= maxEvents
    ) {
      batch = {
        node: ev.node,
        clockOffsetNs: offset,
        baseMonotonicNs: ev.monotonicNs,
        baseSeq: ev.seq,
        connections: [],
        events: [],
      };
      batches.push(batch);
      entries = new Map();
    }
    const key = entryKey(ev);
    let index = entries.get(key);
    if (index === undefined) {
      index = batch.connections.length;
      entries.set(key, index);
      batch.connections.push({
        connection: ev.connection,
        process: ev.process,
        workload: ev.workload,
        peer: ev.peer,
      });
    }
    if (ev.byteCount > BigInt(INT_MAX) || ev.segments.some((s) => s.length > BigInt(INT_MAX)))
      throw new MeshpipeError(ERRORS.SCHEMA_ENCODE_FAILED, [
        'dev.meshpipe.v1.L7RawBatch',
        `byteCount ${ev.byteCount} does not fit a raw batch (at most 2^31 − 1 per syscall)`,
      ]);
    batch.events.push({
      connection: index,
      kind: ev.kind,
      monotonicDeltaNs: Number(ev.monotonicNs - batch.baseMonotonicNs),
      seqDelta: Number(ev.seq - batch.baseSeq),
      tid: ev.process.tid,
      direction: ev.direction,
      syscall: ev.syscall,
      byteCount: Number(ev.byteCount),
      protocol: ev.protocol,
      segments: ev.segments.map((s) => ({
        kind: s.kind,
        length: Number(s.length),
        data: s.data,
        endsMessage: s.endsMessage,
      })),
      truncated: ev.truncated,
      redactions: ev.redactions,
      errno: ev.errno,
      causalCandidates: ev.causalCandidates,
      h2: ev.h2,
    });
  }
  return batches;
}
