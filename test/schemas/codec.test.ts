import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ERRORS } from '../../lib/errors.ts';
import { codecFor, decodeAny, schemaIdOfRecord, toJsonSafe } from '../../schemas/codec.ts';
import { SchemaRegistry, schemaRegistry } from '../../schemas/registry.ts';
import { EXACT_NS, FIXTURES, RAW_EVENT, SPAN } from '../../testkit/fixtures.ts';

describe('codec', () => {
  for (const [schema, value] of Object.entries(FIXTURES)) {
    it(`round-trips a ${schema} record`, () => {
      const codec = codecFor(schema);
      const bytes = codec.encode(value);
      assert.equal(bytes[0], 0, 'magic byte');
      assert.equal(schemaIdOfRecord(bytes), codec.schema.id);
      assert.deepEqual(toJsonSafe(codec.decode(bytes)), toJsonSafe(value));
    });
  }

  it('carries 64-bit nanosecond timestamps exactly', () => {
    const codec = codecFor<typeof SPAN>('span');
    const big = 9_223_372_036_854_775_807n; // the largest long
    const decoded = codec.decode(
      codec.encode({ ...SPAN, startTimeUnixNano: EXACT_NS, endTimeUnixNano: big }),
    );
    assert.equal(decoded.startTimeUnixNano, EXACT_NS);
    assert.equal(decoded.endTimeUnixNano, big);
    assert.equal(typeof decoded.startTimeUnixNano, 'bigint');
    // The same value as a double would lose the last digits.
    assert.notEqual(BigInt(Number(EXACT_NS)), EXACT_NS);
  });

  it('gives every schema a stable id derived from the schema', () => {
    const ids = schemaRegistry()
      .all()
      .map((s) => s.id);
    assert.equal(new Set(ids).size, ids.length, 'ids are unique');
    const again = new SchemaRegistry().register(codecFor('span').schema.type.schema());
    assert.equal(again.id, codecFor('span').schema.id);
  });

  it('refuses bytes that are not the wire format, with codes', () => {
    const codec = codecFor('span');
    assert.throws(() => codec.decode(Buffer.from([1, 0, 0, 0, 1, 2])), {
      code: ERRORS.SCHEMA_NOT_WIRE_FORMAT.code,
    });
    assert.throws(() => codec.decode(Buffer.from([0, 0])), { code: ERRORS.SCHEMA_NOT_WIRE_FORMAT.code });
    assert.throws(() => codec.decode(Buffer.from([0, 0x7f, 0xff, 0xff, 0xfe, 2])), {
      code: ERRORS.SCHEMA_UNKNOWN_ID.code,
    });
  });

  it('detects truncated and padded records', () => {
    const codec = codecFor('l7-raw-event');
    const bytes = codec.encode(RAW_EVENT);
    assert.throws(() => codec.decode(bytes.subarray(0, bytes.length - 10)), {
      code: ERRORS.SCHEMA_DECODE_FAILED.code,
    });
    assert.throws(() => codec.decode(Buffer.concat([bytes, Buffer.from([1, 2, 3])])), {
      code: ERRORS.SCHEMA_DECODE_FAILED.code,
    });
  });

  it('explains which field is invalid when encoding fails', () => {
    const codec = codecFor('span');
    assert.throws(
      () => codec.encode({ ...SPAN, kind: 'SIDEWAYS' } as never),
      (err: Error & { code: string }) => {
        assert.equal(err.code, ERRORS.SCHEMA_ENCODE_FAILED.code);
        assert.match(err.message, /kind/);
        return true;
      },
    );
  });

  it('decodes any record with its writer schema (decodeAny)', () => {
    const bytes = codecFor('span').encode(SPAN);
    const { schema, value } = decodeAny(bytes);
    assert.equal(schema.fullName, 'dev.meshpipe.v1.Span');
    assert.equal((value as typeof SPAN).traceId, SPAN.traceId);
  });

  it('renders bigint and bytes JSON-safely and exactly', () => {
    const json = toJsonSafe({ n: EXACT_NS, b: Buffer.from('hi') }) as { n: string; b: string };
    assert.equal(json.n, '1796000000123456789');
    assert.equal(json.b, Buffer.from('hi').toString('base64'));
  });
});

describe('schema evolution', () => {
  const v1 = {
    type: 'record',
    name: 'Evolving',
    namespace: 'dev.meshpipe.test',
    fields: [
      { name: 'id', type: 'string' },
      { name: 'atNs', type: 'long' },
    ],
  };
  const v2 = {
    ...v1,
    fields: [
      ...v1.fields,
      { name: 'region', type: 'string', default: 'unknown' },
      { name: 'retries', type: ['null', 'int'], default: null },
    ],
  };

  function registries() {
    // A reader that only has v1 as its current schema, but knows v2's id (a newer writer's schema).
    const reader = new SchemaRegistry();
    reader.register(v2 as never, { current: false });
    reader.register(v1 as never, { file: 'evolving', current: true });
    const writer = new SchemaRegistry();
    writer.register(v1 as never, { current: false });
    writer.register(v2 as never, { file: 'evolving', current: true });
    return { reader, writer };
  }

  it('a v1 reader reads a record written with an added defaulted field', () => {
    const { reader, writer } = registries();
    const bytes = codecFor('evolving', writer).encode({ id: 'a', atNs: EXACT_NS, region: 'eu', retries: 2 });
    const value = codecFor<Record<string, unknown>>('evolving', reader).decode(bytes);
    assert.deepEqual({ ...value }, { id: 'a', atNs: EXACT_NS });
  });

  it('a v2 reader fills the default when reading a v1 record', () => {
    const { reader, writer } = registries();
    const bytes = codecFor('evolving', reader).encode({ id: 'b', atNs: 1n });
    const value = codecFor<Record<string, unknown>>('evolving', writer).decode(bytes);
    assert.deepEqual({ ...value }, { id: 'b', atNs: 1n, region: 'unknown', retries: null });
  });

  it('refuses an incompatible writer with a clear code', () => {
    const incompatible = { ...v1, fields: [{ name: 'id', type: 'int' }, v1.fields[1]] };
    const reader = new SchemaRegistry();
    reader.register(incompatible as never, { current: false });
    reader.register(v1 as never, { file: 'evolving', current: true });
    const writer = new SchemaRegistry();
    writer.register(incompatible as never, { file: 'evolving', current: true });
    const bytes = codecFor('evolving', writer).encode({ id: 3, atNs: 1n });
    assert.throws(() => codecFor('evolving', reader).decode(bytes), {
      code: ERRORS.SCHEMA_INCOMPATIBLE.code,
    });
  });
});
