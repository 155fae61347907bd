/**
 * Recordings: raw events saved to a file (`meshpipe record`) and played back later (`meshpipe replay`),
 * which is how users test processors against real traffic without a cluster.
 *
 * The file is a standard Avro Object Container File of `L7RawEvent` records, exactly as the collector
 * produces them to Kafka (already redacted and minimised), deflate-compressed. Any Avro tool can read it;
 * meshpipe reads longs as exact BigInts.
 *
 * Writing: the file is created, never opened if it exists (O_EXCL), never through a symbolic link
 * (O_NOFOLLOW), readable by its owner only (0600): it holds the traffic of every process on the node.
 *
 * Reading: a recording is a file someone hands you, so it is read as untrusted bytes. avsc's container
 * decoder trusts the block counts, the block sizes and the deflate stream (a 1 KiB block can inflate to
 * gigabytes), so it is not used: the container framing is read here, every size is bounded, inflating
 * stops at MAX_BLOCK_BYTES, and each record goes through the same bounds check as a Kafka record
 * (schemas/record-bounds.ts) before avsc decodes it, resolved from the file's schema to this build's.
 * A corrupt or cut file ends the reading with an error that says which block and byte.
 */
import { once } from 'node:events';
import { constants, createReadStream, createWriteStream, openSync } from 'node:fs';
import { inflateRawSync } from 'node:zlib';
import avro, { type Resolver } from 'avsc';
import { errorMessage } from '../lib/errors.ts';
import { type AvroType, avroType } from '../schemas/avro-types.ts';
import { boundsCheckOf } from '../schemas/record-bounds.ts';
import { schemaRegistry } from '../schemas/registry.ts';
import type { L7RawEvent } from '../schemas/types.ts';

export interface RecordingWriter {
  /** Appends an event; throws once the file has failed (disk full, removed directory...). */
  write(event: L7RawEvent): void;
  /** Flushes and closes the file; resolves with the number of events written, rejects if writing failed. */
  close(): Promise<number>;
}

const CREATE_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

/**
 * Creates the recording file (0600; fails with EEXIST if the name exists, a symbolic link included:
 * the caller reports it) and returns its writer.
 */
export function createRecordingWriter(path: string): RecordingWriter {
  const type = schemaRegistry().current('l7-raw-event').type;
  const fd = openSync(path, CREATE_FLAGS, 0o600);
  const encoder = new avro.streams.BlockEncoder(type, { codec: 'deflate' });
  const file = createWriteStream(path, { fd });
  // A failing file (ENOSPC, EIO...) is an error to report, not a crash: remember the first one;
  // write() and close() hand it to the caller.
  let failure: Error | undefined;
  const fail = (err: Error) => {
    failure ??= err;
    encoder.unpipe(file);
    file.destroy();
  };
  file.on('error', fail);
  encoder.on('error', fail);
  encoder.pipe(file);
  let count = 0;
  return {
    write(event) {
      if (failure !== undefined) throw failure;
      encoder.write(event);
      count++;
    },
    async close() {
      if (failure === undefined) {
        encoder.end();
        await Promise.race([once(file, 'close'), once(file, 'error')]).catch(() => {});
      }
      if (failure !== undefined) throw failure;
      return count;
    },
  };
}

/** Larger than any block a sane writer makes (avsc and Java flush at 64 KiB), compressed or not. */
export const MAX_BLOCK_BYTES = 64 * 1_048_576;
/** The header holds the schema and a few metadata entries: far below this. */
const MAX_HEADER_BYTES = 1_048_576;
const MAGIC = Buffer.from('Obj\x01', 'latin1');
const SYNC_BYTES = 16;

// The container framing (Avro spec, "Object Container Files"), with exact longs.
const HEADER_TYPE = avroType({
  type: 'record',
  name: 'Header',
  namespace: 'org.apache.avro.file',
  fields: [
    { name: 'magic', type: { type: 'fixed', name: 'Magic', size: 4 } },
    { name: 'meta', type: { type: 'map', values: 'bytes' } },
    { name: 'sync', type: { type: 'fixed', name: 'Sync', size: SYNC_BYTES } },
  ],
});

/** Bytes arriving in chunks of any size, read from the front. */
class ByteQueue {
  readonly #source: AsyncIterator<Uint8Array> | Iterator<Uint8Array>;
  #done = false;
  buf: Buffer = Buffer.alloc(0);
  pos = 0;
  /** File offset of buf[0]. */
  base = 0;

  constructor(source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>) {
    this.#source =
      Symbol.asyncIterator in source ? source[Symbol.asyncIterator]() : source[Symbol.iterator]();
  }

  get available(): number {
    return this.buf.length - this.pos;
  }

  get offset(): number {
    return this.base + this.pos;
  }

  /** Reads until `n` bytes are available or the input ends; says whether they are. */
  async ensure(n: number): Promise<boolean> {
    if (this.available >= n) return true;
    const parts: Uint8Array[] = [this.buf.subarray(this.pos)];
    let have = this.available;
    while (have < n && !this.#done) {
      const next = await this.#source.next();
      if (next.done === true) this.#done = true;
      else {
        parts.push(next.value);
        have += next.value.length;
      }
    }
    this.base += this.pos;
    this.buf = Buffer.concat(parts, have);
    this.pos = 0;
    return have >= n;
  }
}

/** A zig-zag long of at most 10 bytes at `pos` of `buf[..end)`: [value, next], or undefined if cut. */
function readLong(buf: Uint8Array, pos: number, end: number): [number, number] | undefined {
  let n = 0;
  let scale = 1;
  for (let i = pos; i < end && i - pos < 10; i++) {
    const b = buf[i]!;
    n += (b & 0x7f) * scale;
    scale *= 128;
    if (b < 0x80) return [n % 2 === 1 ? -(n + 1) / 2 : n / 2, i + 1];
  }
  if (end - pos >= 10) throw new Error(`a block header number longer than 10 bytes at byte ${pos}`);
  return undefined;
}

interface Container {
  writer: AvroType;
  resolver: Resolver | null;
  codec: 'null' | 'deflate';
  sync: Buffer;
}

/** Writer types by schema text: every recording of a build has the same one, compiled once. */
const writerTypes = new Map<string, { writer: AvroType; resolver: Resolver | null }>();

async function readHeader(input: ByteQueue): Promise<Container> {
  await input.ensure(MAX_HEADER_BYTES);
  const bytes = input.buf.subarray(input.pos);
  if (bytes.length < MAGIC.length || !MAGIC.equals(bytes.subarray(0, MAGIC.length)))
    throw new Error('not an Avro container file (no "Obj\\x01" magic at byte 0)');
  let end: number;
  try {
    end = boundsCheckOf(HEADER_TYPE)(bytes, 0);
  } catch (err) {
    const tooLarge = bytes.length >= MAX_HEADER_BYTES;
    throw new Error(
      tooLarge ? `the header is larger than ${MAX_HEADER_BYTES} bytes` : `bad header: ${errorMessage(err)}`,
    );
  }
  const header = HEADER_TYPE.decode(bytes, 0).value as { meta: Record<string, Buffer>; sync: Buffer };
  input.pos += end;
  const codec = header.meta['avro.codec']?.toString() ?? 'null';
  if (codec !== 'null' && codec !== 'deflate')
    throw new Error(`blocks compressed with "${codec}": only null and deflate are read`);
  const schema = header.meta['avro.schema']?.toString() ?? 'null';
  let types = writerTypes.get(schema);
  if (types === undefined) {
    const reader = schemaRegistry().current('l7-raw-event').type;
    try {
      const writer = avroType(JSON.parse(schema));
      types = { writer, resolver: writer.equals(reader) ? null : reader.createResolver(writer) };
    } catch (err) {
      throw new Error(`its schema does not give raw events (${reader.name}): ${errorMessage(err)}`);
    }
    if (writerTypes.size >= 16) writerTypes.clear();
    writerTypes.set(schema, types);
  }
  return { ...types, codec, sync: Buffer.from(header.sync) };
}

/**
 * Decodes a recording from its bytes, in chunks of any size: every event, in order. Throws (an Error
 * whose message says which block, at which byte, and why) at the first thing that is not a valid
 * recording of raw events; the events before it have been yielded.
 */
export async function* decodeRecording(
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
): AsyncGenerator<L7RawEvent> {
  const input = new ByteQueue(source);
  const container = await readHeader(input);
  const reader = schemaRegistry().current('l7-raw-event').type;
  const check = boundsCheckOf(container.writer);
  for (let block = 0; ; block++) {
    if (!(await input.ensure(1))) return;
    const at = input.offset;
    const where = `block ${block} (byte ${at})`;
    await input.ensure(20);
    const { buf } = input;
    const count = readLong(buf, input.pos, buf.length);
    const size = count === undefined ? undefined : readLong(buf, count[1], buf.length);
    if (count === undefined || size === undefined)
      throw new Error(`the file ends inside ${where}: it was cut`);
    if (count[0] < 0 || size[0] < 0 || size[0] > MAX_BLOCK_BYTES)
      throw new Error(`${where} claims ${count[0]} records in ${size[0]} bytes`);
    const head = size[1] - input.pos;
    if (!(await input.ensure(head + size[0] + SYNC_BYTES)))
      throw new Error(`the file ends inside ${where} (${size[0]} bytes announced): it was cut`);
    const start = input.pos + head;
    const compressed = input.buf.subarray(start, start + size[0]);
    if (!container.sync.equals(input.buf.subarray(start + size[0], start + size[0] + SYNC_BYTES)))
      throw new Error(`${where} does not end with the file's sync marker`);
    input.pos = start + size[0] + SYNC_BYTES;
    let data: Buffer;
    try {
      data =
        container.codec === 'deflate'
          ? inflateRawSync(compressed, { maxOutputLength: MAX_BLOCK_BYTES })
          : Buffer.from(compressed);
    } catch (err) {
      throw new Error(`${where} does not inflate: ${errorMessage(err)}`);
    }
    // Every raw event takes at least one byte: a count above the size is a lie, not a block.
    if (count[0] > data.length)
      throw new Error(`${where} claims ${count[0]} records in ${data.length} bytes`);
    let pos = 0;
    for (let i = 0; i < count[0]; i++) {
      let event: L7RawEvent;
      try {
        const next = check(data, pos);
        const decoded =
          container.resolver === null
            ? reader.decode(data, pos)
            : reader.decode(data, pos, container.resolver);
        if (decoded.offset !== next) throw new Error('the record does not decode');
        event = decoded.value as L7RawEvent;
        pos = next;
      } catch (err) {
        throw new Error(`record ${i} of ${where}: ${errorMessage(err)}`);
      }
      yield event;
    }
    if (pos !== data.length)
      throw new Error(`${where} has ${data.length - pos} bytes after its ${count[0]} records`);
  }
}

/** Reads every event of a recording file, in order (see decodeRecording). */
export function readRecording(path: string): AsyncGenerator<L7RawEvent> {
  return decodeRecording(createReadStream(path));
}
