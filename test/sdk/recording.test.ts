import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { lstatSync, mkdtempSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { deflateRawSync } from 'node:zlib';
import avro from 'avsc';
import fc from 'fast-check';
import { type AvroSchema, avroType } from '../../schemas/avro-types.ts';
import { codecFor, toJsonSafe } from '../../schemas/codec.ts';
import { schemaRegistry } from '../../schemas/registry.ts';
import type { L7RawEvent } from '../../schemas/types.ts';
import {
  createRecordingWriter,
  decodeRecording,
  MAX_BLOCK_BYTES,
  readRecording,
} from '../../sdk/recording.ts';
import { EXACT_NS, RAW_EVENT, SPAN } from '../../testkit/fixtures.ts';
import { fuzzParameters, mutated, validValue, varint } from '../helpers/avro-hostile.ts';

const RAW = schemaRegistry().current('l7-raw-event').type;
const SYNC = Buffer.from('0123456789abcdef');

const tmp = () => mkdtempSync(join(tmpdir(), 'meshpipe-rec-'));

const HEADER = avro.Type.forSchema({
  type: 'record',
  name: 'Header',
  fields: [
    { name: 'magic', type: { type: 'fixed', name: 'Magic', size: 4 } },
    { name: 'meta', type: { type: 'map', values: 'bytes' } },
    { name: 'sync', type: { type: 'fixed', name: 'Sync', size: 16 } },
  ],
});
const RAW_SCHEMA = RAW.schema();

/** An Avro container file built by hand: `blocks` are [record count, block bytes as stored]. */
function container(
  blocks: [number | bigint, Buffer][],
  options: { schema?: unknown; codec?: string; sync?: Buffer } = {},
): Buffer {
  const meta: Record<string, Buffer> = {
    'avro.schema': Buffer.from(JSON.stringify(options.schema ?? RAW_SCHEMA)),
    'avro.codec': Buffer.from(options.codec ?? 'null'),
  };
  const header = HEADER.toBuffer({ magic: Buffer.from('Obj\x01', 'latin1'), meta, sync: SYNC });
  const parts = [header];
  for (const [count, data] of blocks)
    parts.push(Buffer.from([...varint(count), ...varint(data.length)]), data, options.sync ?? SYNC);
  return Buffer.concat(parts);
}

const body = (events: L7RawEvent[]) => Buffer.concat(events.map((e) => RAW.toBuffer(e)));

async function readAll(bytes: Buffer, chunk = 4096): Promise<L7RawEvent[]> {
  const chunks: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += chunk) chunks.push(bytes.subarray(i, i + chunk));
  const out: L7RawEvent[] = [];
  for await (const e of decodeRecording(chunks)) out.push(e);
  return out;
}

const events = (n: number) =>
  Array.from({ length: n }, (_, i) => ({ ...RAW_EVENT, seq: BigInt(i), timeUnixNano: EXACT_NS + BigInt(i) }));

describe('recordings', () => {
  it('write and read back raw events exactly, as a standard Avro container file', async () => {
    const path = join(tmp(), 'capture.avro');
    const writer = createRecordingWriter(path);
    const written = events(500);
    for (const e of written) writer.write(e);
    assert.equal(await writer.close(), 500);
    assert.equal(readFileSync(path).subarray(0, 4).toString('latin1'), 'Obj\x01', 'Avro OCF magic');
    const back = [];
    for await (const e of readRecording(path)) back.push(e);
    assert.equal(back.length, 500);
    assert.equal(back[499]!.timeUnixNano, EXACT_NS + 499n);
    assert.deepEqual(toJsonSafe(back[7]), toJsonSafe(written[7]));
    // avsc's own container reader (any Avro tool) reads the file too.
    const decoder = new avro.streams.BlockDecoder({ parseHook: (schema) => avroType(schema) });
    let count = 0;
    decoder.on('data', () => count++);
    await new Promise((resolve, reject) =>
      decoder.on('end', resolve).on('error', reject).end(readFileSync(path)),
    );
    assert.equal(count, 500);
  });

  it('creates the file 0600, never over an existing file, never through a symbolic link', async () => {
    const dir = tmp();
    const path = join(dir, 'capture.avro');
    const writer = createRecordingWriter(path);
    writer.write(RAW_EVENT);
    await writer.close();
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.throws(() => createRecordingWriter(path), { code: 'EEXIST' });

    const target = join(dir, 'target');
    writeFileSync(target, 'untouched');
    const link = join(dir, 'link.avro');
    symlinkSync(target, link);
    // O_CREAT|O_EXCL fails on any existing name, a dangling or live symbolic link included (open(2)).
    assert.throws(() => createRecordingWriter(link), { code: 'EEXIST' });
    assert.equal(readFileSync(target, 'utf8'), 'untouched');
    assert.ok(lstatSync(link).isSymbolicLink());
  });

  it('decodes a recording whatever the sizes of the chunks it arrives in', async () => {
    const bytes = container([
      [3, body(events(3))],
      [2, body(events(2))],
    ]);
    for (const chunk of [1, 2, 7, 64, 1 << 20]) assert.equal((await readAll(bytes, chunk)).length, 5);
  });

  it('reads records written with an earlier or later schema version (resolved like Kafka records)', async () => {
    const older = JSON.parse(JSON.stringify(RAW.schema())) as { fields: { name: string }[] };
    older.fields = older.fields.filter((f) => f.name !== 'errno');
    const { errno: _, ...withoutErrno } = RAW_EVENT;
    const back = await readAll(
      container([[1, avroType(older as AvroSchema).toBuffer(withoutErrno)]], { schema: older }),
    );
    assert.equal(back[0]!.errno, null);
    assert.equal(back[0]!.node, RAW_EVENT.node);
  });
});

describe('a hostile or broken recording ends with an error that says where', () => {
  const cases: [string, () => Buffer, RegExp][] = [
    ['not a container', () => Buffer.from('hello, this is not Avro'), /no "Obj\\x01" magic/],
    [
      'a header map claiming 2^28 entries',
      () => Buffer.concat([Buffer.from('Obj\x01', 'latin1'), Buffer.from(varint(2 ** 28))]),
      /bad header: a map of 268435456 items/,
    ],
    [
      'spans instead of raw events',
      () =>
        container([[1, codecFor('span').encode(SPAN).subarray(5)]], {
          schema: codecFor('span').schema.type.schema(),
        }),
      /does not give raw events/,
    ],
    ['an unknown codec', () => container([], { codec: 'zstandard' }), /"zstandard": only null and deflate/],
    [
      'a block claiming 2^40 records',
      () => container([[2n ** 40n, body(events(1))]]),
      /block 0 \(byte \d+\) claims 1099511627776 records in \d+ bytes/,
    ],
    [
      'a wrong sync marker',
      () => container([[1, body(events(1))]], { sync: Buffer.alloc(16) }),
      /block 0 .* sync marker/,
    ],
    [
      'a record claiming 2^28 segments',
      () => {
        const good = RAW.toBuffer(RAW_EVENT);
        // Cut the record where its segments array starts, and claim 2^28 of them: the fields after it
        // (each empty, false, zero or null) take one byte each.
        const fields = (RAW as unknown as { fields: Array<{ name: string }> }).fields;
        const after = fields.length - fields.findIndex((f) => f.name === 'segments');
        const empty = { ...RAW_EVENT, segments: [], truncated: false, redactions: 0, errno: null };
        const segmentsAt = RAW.toBuffer(empty).length - after;
        return container([[1, Buffer.concat([good.subarray(0, segmentsAt), Buffer.from(varint(2 ** 28))])]]);
      },
      /record 0 of block 0 .* an array of 268435456 items/,
    ],
    [
      'a record with bytes after it',
      () => container([[1, Buffer.concat([body(events(1)), Buffer.from([7])])]]),
      /1 bytes after its 1 records/,
    ],
    [
      'a deflate bomb (a small block that inflates past the limit)',
      () => container([[1, deflateRawSync(Buffer.alloc(MAX_BLOCK_BYTES + 1))]], { codec: 'deflate' }),
      /block 0 .* does not inflate/,
    ],
  ];
  for (const [name, bytes, message] of cases) {
    it(name, async () => {
      await assert.rejects(readAll(bytes()), message);
    });
  }

  it('a cut file: every complete block is read, then an error says it was cut', async () => {
    const bytes = container([
      [2, body(events(2))],
      [2, body(events(2))],
    ]);
    const got: L7RawEvent[] = [];
    await assert.rejects(async () => {
      for await (const e of decodeRecording([bytes.subarray(0, bytes.length - 10)])) got.push(e);
    }, /the file ends inside block 1 .*: it was cut/);
    assert.equal(got.length, 2);
  });

  it('fuzz: a mutated recording yields valid raw events, then ends or fails with a reason', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc
          .array(validValue(RAW), { minLength: 1, maxLength: 4 })
          .chain((values) => {
            const bytes = container([[values.length, body(values as L7RawEvent[])]], {
              codec: 'deflate',
            });
            // Mostly the blocks; the header (nearly all of it the schema's text) now and then.
            const blocks = container([], { codec: 'deflate' }).length;
            const bytesArb = fc.oneof({ arbitrary: mutated(bytes, blocks), weight: 4 }, mutated(bytes));
            return fc.tuple(bytesArb, fc.integer({ min: 16, max: 4096 }));
          })
          .map(([bytes, chunk]) => ({ bytes, chunk })),
        async ({ bytes, chunk }) => {
          try {
            for (const e of await readAll(bytes, chunk)) assert.ok(RAW.isValid(e));
          } catch (err) {
            assert.ok(err instanceof Error && err.constructor === Error, String(err));
            assert.match(err.message, /block|header|magic|schema|codec/);
          }
        },
      ),
      fuzzParameters(),
    );
  });
});

describe('a recording that cannot be written', () => {
  it('an unwritable path fails at once, naming the reason', () => {
    assert.throws(() => createRecordingWriter('/nonexistent-dir/capture.avro'), { code: 'ENOENT' });
    assert.throws(() => createRecordingWriter('/proc/version/not-a-dir.avro'), { code: 'ENOTDIR' });
  });

  it('a write that fails later (the file size limit) is reported by write() and close(), not a crash', () => {
    // RLIMIT_FSIZE makes the kernel refuse writes past 4 KiB with EFBIG (Node ignores SIGXFSZ).
    const path = join(tmp(), 'capture.avro');
    const script = `
      import { createRecordingWriter } from ${JSON.stringify(new URL('../../sdk/recording.ts', import.meta.url).pathname)};
      import { RAW_EVENT } from ${JSON.stringify(new URL('../../testkit/fixtures.ts', import.meta.url).pathname)};
      const writer = createRecordingWriter(${JSON.stringify(path)});
      let threw = null;
      for (let i = 0; i < 20000 && threw === null; i++) {
        try { writer.write({ ...RAW_EVENT, seq: BigInt(i) }); } catch (err) { threw = err.code; }
        if (i % 500 === 0) await new Promise((r) => setTimeout(r, 5));
      }
      const closed = await writer.close().then(() => 'ok', (err) => err.code);
      console.log(JSON.stringify({ threw, closed }));`;
    const r = spawnSync('prlimit', ['--fsize=4096', process.execPath, '--input-type=module', '-e', script], {
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), { threw: 'EFBIG', closed: 'EFBIG' });
  });
});
