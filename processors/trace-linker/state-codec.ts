/**
 * The trace linker's changelog values: Avro of the declared type state.avsc, one record type per kind of
 * entry (state.ts), written in the Confluent wire format by the runtime's Avro state codec.
 *
 * Why: the JSON codec's tree of tagged values (BigInts, base64 span bytes, a bucket's rows as arrays)
 * was a third of the linker's handler CPU (bench/processors, docs/benchmarks.md). State stays live and
 * typed (index.ts); only the keys changed in a transaction are encoded, once, when it is written.
 *
 * The state is a union of entry types told apart by `t`. avsc reads and writes a union of several
 * record types only wrapped (`{ "<record name>": value }`), so an entry is handed to it in a wrapper
 * made once per type and reused (encoding is synchronous), and `t`, which the branch already says, is
 * not written: it is set again when a value is read.
 *
 * The entries live in one store, `entries` (linkerStores), under the keys state.ts describes: the
 * deadline wheel and the arrival lists refer to entries of every kind by those keys.
 *
 * Upgrade: a changelog written by the releases before stores holds the same keys and values without a
 * store name (legacyLinkerState puts them in `entries`, as they were). One written by the releases
 * before state.avsc holds JSON values (JSON never begins
 * with the wire format's magic byte 0). They still restore: decoded by the JSON state codec, with what
 * changed since brought up to date (a bucket's rows were tuples). Each key is written as Avro the next
 * time a transaction changes it; compaction then drops its JSON value (docs/tracing.md, "State").
 */
import { MAGIC_BYTE } from '../../schemas/codec.ts';
import { avroStateCodec } from '../runtime/avro-state-codec.ts';
import type { LegacyEntry, StateCodec } from '../runtime/definition.ts';
import { jsonStateCodec } from '../runtime/state-codec.ts';
import type { StoreType } from '../runtime/store-types.ts';
import type { BucketEntry, LinkerState, ServerRow } from './state.ts';

type Tag = LinkerState['t'];
const NAMESPACE = 'dev.meshpipe.tracelinker.v1';
/** The record type (state.avsc) of each kind of entry. */
const RECORD_OF: Record<Tag, string> = {
  span: 'SpanEntry',
  remote: 'RemoteEntry',
  bucket: 'BucketEntry',
  process: 'ProcessIndexEntry',
  meta: 'MetaEntry',
  wheel: 'WheelEntry',
  arrivals: 'ArrivalsEntry',
};
const TAG_OF = new Map(Object.entries(RECORD_OF).map(([tag, name]) => [`${NAMESPACE}.${name}`, tag as Tag]));

/** The top-level record of state.avsc: one field, the union of the entry types (wrapped). */
interface StoredValue {
  entry: Record<string, LinkerState | null>;
}

/** A bucket row as the JSON releases wrote it (state.ts before state.avsc). */
type JsonServerRow = [string, number, number, number, string | null, string[]];

/** A value the JSON codec wrote, as the current types have it. */
function fromJsonRelease(value: LinkerState): LinkerState {
  if (value.t === 'bucket') {
    const servers = value.servers as unknown as Array<JsonServerRow | ServerRow>;
    (value as BucketEntry).servers = servers.map((row) =>
      Array.isArray(row)
        ? {
            spanId: row[0],
            startOffsetNs: row[1],
            durationNs: row[2],
            tid: row[3],
            headerTrace: row[4],
            childConns: row[5],
          }
        : row,
    );
  }
  return value;
}

/**
 * Earlier versions of state.avsc, oldest first (none yet): a value one of them wrote is read by schema
 * resolution, so a changed type keeps its predecessor here (history/, new fields with defaults).
 */
const HISTORY: readonly URL[] = [];

export function linkerStateCodec(): StateCodec<LinkerState> {
  const avro = avroStateCodec<StoredValue>(new URL('./state.avsc', import.meta.url), { history: HISTORY });
  const json = jsonStateCodec<LinkerState>();
  const wrappers = new Map<
    Tag,
    { value: StoredValue; branch: Record<string, LinkerState | null>; name: string }
  >();
  for (const [tag, record] of Object.entries(RECORD_OF)) {
    const name = `${NAMESPACE}.${record}`;
    const branch: Record<string, LinkerState | null> = { [name]: null };
    wrappers.set(tag as Tag, { value: { entry: branch }, branch, name });
  }
  return {
    encode(value) {
      if (value === undefined) throw new TypeError('state value is undefined: use state.delete(key)');
      const wrapper = wrappers.get(value.t);
      if (wrapper === undefined) throw new TypeError(`not a trace-linker state entry: t=${String(value.t)}`);
      wrapper.branch[wrapper.name] = value;
      try {
        return avro.encode(wrapper.value);
      } finally {
        wrapper.branch[wrapper.name] = null;
      }
    },
    decode(bytes) {
      if (bytes.length > 0 && bytes[0] !== MAGIC_BYTE) return fromJsonRelease(json.decode(bytes));
      const { entry } = avro.decode(bytes);
      const name = Object.keys(entry)[0]!;
      const value = entry[name]! as LinkerState & { t: Tag };
      value.t = TAG_OF.get(name)!;
      return value;
    },
  };
}

let codec: StateCodec<LinkerState> | undefined;

/** The state stores (processors/runtime/store-types.ts): one, of the declared type state.avsc. */
export const linkerStores = {
  entries: {
    format: 'avro',
    codec: () => {
      codec ??= linkerStateCodec();
      return codec;
    },
  } as StoreType<LinkerState>,
};

/** A changelog record of the releases before stores: the same key and value, in `entries`. */
export function legacyLinkerState(key: string, value: Buffer): LegacyEntry<typeof linkerStores> {
  return { store: 'entries', key, value: linkerStores.entries.codec().decode(value) };
}
