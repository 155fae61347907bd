/**
 * Hostile records against the codec, for every Avro schema in the tree (meshpipe's topics, the
 * processors' own, the test fixtures'): every count, length and index a record can lie about, then
 * fuzzing of valid records of each schema (scripts/fuzz runs the same properties 100,000 times).
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ERRORS, isMeshpipeError } from '../../lib/errors.ts';
import { avroType } from '../../schemas/avro-types.ts';
import { codecFor, decodeAny } from '../../schemas/codec.ts';
import { compileBoundsCheck, RecordBoundsError } from '../../schemas/record-bounds.ts';
import { loadSchemaRegistry } from '../../schemas/registry.ts';
import {
  fuzzParameters,
  mutated,
  poisonBodies,
  validValue,
  varint,
  wireRecord,
} from '../helpers/avro-hostile.ts';

const ROOT = join(import.meta.dirname, '../..');

function avscFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name.startsWith('.')) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...avscFiles(path));
    else if (entry.name.endsWith('.avsc')) out.push(path);
  }
  return out;
}

// Every schema file in the tree, each the current version of its record in one registry.
const registry = loadSchemaRegistry();
const SCHEMAS = avscFiles(ROOT).map((path) => {
  const file = relative(ROOT, path);
  registry.register(JSON.parse(readFileSync(path, 'utf8')), { file, current: true });
  return file;
});

function assertRefused(decode: () => unknown, what: string): void {
  assert.throws(decode, (err: unknown) => {
    assert.ok(isMeshpipeError(err), `${what}: ${String(err)}`);
    assert.equal(err.code, ERRORS.SCHEMA_DECODE_FAILED.code, `${what}: ${err.message}`);
    return true;
  });
}

describe('record bounds: hostile records fail with a reason, whatever they claim', () => {
  it('covers every schema of the tree', () => {
    assert.ok(SCHEMAS.length >= 8, SCHEMAS.join(', '));
    assert.ok(SCHEMAS.includes('schemas/l7-raw-event.avsc'));
    assert.ok(SCHEMAS.some((f) => f.startsWith('processors/')));
  });

  for (const file of SCHEMAS) {
    it(`refuses every poison record of ${basename(file)}`, () => {
      const codec = codecFor(file, registry);
      const bodies = poisonBodies(codec.schema.type);
      if (bodies.length === 0) {
        // Fixed-size fields only (a record of doubles: anomaly-detector's meta): no count, length or
        // index to lie about. What a hostile record can still do is end early.
        const [value] = fc.sample(validValue(codec.schema.type), { numRuns: 1, seed: 1 });
        const valid = codec.encode(value);
        const truncated = valid.subarray(0, valid.length - 1);
        assertRefused(() => codec.decode(truncated), 'a record one byte short');
        assertRefused(() => decodeAny(truncated, registry), 'a record one byte short');
        return;
      }
      for (const { what, bytes } of bodies) {
        const record = wireRecord(codec.schema.id, bytes);
        assertRefused(() => codec.decode(record), what);
        assertRefused(() => decodeAny(record, registry), what);
      }
    });
  }

  it('refuses the 5-byte record of issue 14 (an array count of 2^28) and says why', () => {
    const check = compileBoundsCheck(avroType({ type: 'array', items: 'string' }));
    assert.throws(() => check(Buffer.from(varint(2 ** 28)), 0), {
      name: 'RecordBoundsError',
      message: 'an array of 268435456 items with 0 bytes left at byte 0',
    });
    const codec = codecFor('metric-sample', registry);
    // name, description, unit: empty; type COUNTER; labels: a map of 2^28 entries.
    const record = wireRecord(codec.schema.id, Buffer.from([0, 0, 0, 0, ...varint(2 ** 28)]));
    assert.throws(() => codec.decode(record), /a map of 268435456 items with 0 bytes left at byte 9/);
  });

  it('reports where the bytes stop making sense', () => {
    const type = avroType({
      type: 'record',
      name: 'T',
      fields: [
        { name: 's', type: 'string' },
        { name: 'e', type: { type: 'enum', name: 'E', symbols: ['A', 'B'] } },
        { name: 'u', type: ['null', 'long'] },
      ],
    });
    const check = compileBoundsCheck(type);
    const ok = Buffer.from([...varint(2), 0x61, 0x62, ...varint(1), ...varint(1), ...varint(-7)]);
    assert.equal(check(ok, 0), ok.length);
    const cases: [number[], RegExp][] = [
      [[...varint(9), 0x61], /a length of 9 with 1 bytes left at byte 0/],
      [[...varint(-1)], /a negative length \(-1\) at byte 0/],
      [[0, ...varint(2)], /no symbol 2 in E at byte 1/],
      [[0, 0, ...varint(2)], /no union branch 2 at byte 2/],
      [[0, 0, 2, 0x80, 0x80], /truncated: a number at byte 3/],
      [[0, 0, 2, ...new Array<number>(11).fill(0x80), 0], /a number longer than 10 bytes at byte 3/],
    ];
    for (const [bytes, message] of cases) assert.throws(() => check(Buffer.from(bytes), 0), message);
    assert.ok(new RecordBoundsError('x') instanceof Error);
  });

  it('bounds the items of a whole record by its length, not each block by what is left', () => {
    // Arrays of arrays: each block fits, but all blocks together claim more items than there are bytes.
    const check = compileBoundsCheck(avroType({ type: 'array', items: { type: 'array', items: 'null' } }));
    assert.equal(check(Buffer.from([...varint(2), 0, 0, 0]), 0), 4);
    assert.throws(() => check(Buffer.from([...varint(2), ...varint(3), 0, 0]), 0), /an array of 3 items/);
  });
});

describe('record bounds: fuzzing (MESHPIPE_FUZZ_RUNS, scripts/fuzz)', () => {
  for (const file of SCHEMAS) {
    const codec = codecFor(file, registry);
    const type = codec.schema.type;

    it(`fuzz: valid ${basename(file)} records decode to what was encoded`, () => {
      fc.assert(
        fc.property(validValue(type), (value) => {
          const bytes = codec.encode(value);
          assert.deepEqual(codec.decode(bytes), type.fromBuffer(bytes.subarray(5)));
        }),
        fuzzParameters(),
      );
    });

    it(`fuzz: mutated ${basename(file)} records decode to a valid value or fail with SCHEMA_DECODE_FAILED`, () => {
      fc.assert(
        fc.property(
          validValue(type).chain((value) => mutated(codec.encode(value), 5)),
          (bytes) => {
            let value: unknown;
            try {
              value = codec.decode(bytes);
            } catch (err) {
              assert.ok(isMeshpipeError(err), String(err));
              assert.equal(err.code, ERRORS.SCHEMA_DECODE_FAILED.code);
              return;
            }
            assert.ok(type.isValid(value), 'a decoded value is a valid value of the schema');
          },
        ),
        fuzzParameters(),
      );
    });
  }
});
