import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { HpackDecoder, type HpackField } from '../../../protocols/http2/hpack-decoder.ts';
import {
  C2_1,
  C2_2,
  C2_3,
  C2_4,
  C3,
  C3_HEADERS,
  C3_TABLE_SIZES,
  C4,
  C5,
  C5_HEADERS,
  C5_TABLE_LENGTHS,
  C5_TABLE_SIZES,
  C6,
  hex,
} from './fixtures.ts';

const pairs = (fields: HpackField[]) => fields.map((f) => [f.name, f.value]);

describe('HpackDecoder: RFC 7541 Appendix C', () => {
  test('C.2: one representation of each kind', () => {
    const table: Array<[string, Array<[string, string]>, number, boolean]> = [
      [C2_1, [['custom-key', 'custom-header']], 55, false],
      [C2_2, [[':path', '/sample/path']], 0, false],
      [C2_3, [['password', 'secret']], 0, true],
      [C2_4, [[':method', 'GET']], 0, false],
    ];
    for (const [block, expected, size, neverIndexed] of table) {
      const d = new HpackDecoder();
      const r = d.decode(hex(block));
      assert.equal(r.error, null, block);
      assert.deepEqual(pairs(r.fields), expected, block);
      assert.equal(r.fields[0]!.neverIndexed, neverIndexed);
      assert.equal(d.tableSize, size, block);
    }
  });

  for (const [name, blocks] of [
    ['C.3 requests without Huffman', C3],
    ['C.4 requests with Huffman', C4],
  ] as const) {
    test(name, () => {
      const d = new HpackDecoder();
      blocks.forEach((block, i) => {
        const r = d.decode(hex(block));
        assert.equal(r.error, null);
        assert.equal(r.unresolved, 0);
        assert.deepEqual(pairs(r.fields), C3_HEADERS[i]);
        assert.equal(d.tableSize, C3_TABLE_SIZES[i]);
      });
    });
  }

  for (const [name, blocks] of [
    ['C.5 responses without Huffman, table of 256 bytes', C5],
    ['C.6 responses with Huffman, table of 256 bytes', C6],
  ] as const) {
    test(name, () => {
      const d = new HpackDecoder({ initialTableSize: 256 });
      blocks.forEach((block, i) => {
        const r = d.decode(hex(block));
        assert.equal(r.error, null);
        assert.deepEqual(pairs(r.fields), C5_HEADERS[i]);
        assert.equal(d.tableSize, C5_TABLE_SIZES[i]);
        assert.equal(d.tableLength, C5_TABLE_LENGTHS[i]);
      });
    });
  }
});

describe('HpackDecoder: malformed blocks are errors, never exceptions', () => {
  const table: Array<[string, string, string]> = [
    ['index 0', '80', 'index-zero'],
    ['index past an empty dynamic table', 'be', 'index-out-of-range'],
    ['string longer than the block', '400a6375', 'truncated'],
    ['integer that never ends', 'ffffffffffffff', 'integer-overflow'],
    ['integer cut by the end of the block', 'ff', 'truncated'],
    ['size update after a field', '8220', 'late-table-size-update'],
    ['size update over the table cap', '3fe1ff1f', 'table-size-over-limit'],
    // "a" is 00011 (5 bits), padded with 0s instead of 1s.
    ['Huffman padding of zeros', '0081' + '18', 'huffman-padding'],
    // A full byte of 1s after "a"... 8 bits of padding is too long: "a" + 11111111 111 → 2 bytes
    ['Huffman padding longer than 7 bits', '0082' + '1fff', 'huffman-padding'],
    // EOS (30 ones) inside a string.
    ['Huffman EOS in the string', '0084' + 'fffffffc', 'huffman-eos'],
  ];
  for (const [name, block, reason] of table) {
    test(name, () => {
      const d = new HpackDecoder();
      const r = d.decode(hex(block));
      assert.equal(r.error, reason);
      assert.equal(d.counters.errors[r.error!], 1);
      // The table state is unknown after a malformed block: the decoder goes unsynced.
      assert.equal(d.synced, false);
    });
  }

  test('a Huffman string with valid padding decodes', () => {
    // "a" (00011) + 111 padding = 0x1f
    const r = new HpackDecoder().decode(hex('0081' + '1f' + '00'));
    assert.equal(r.error, null);
    assert.deepEqual(pairs(r.fields), [['a', '']]);
  });

  test('size updates at the start of a block shrink and evict', () => {
    const d = new HpackDecoder();
    d.decode(hex(C3[0]));
    d.decode(hex(C3[1]));
    assert.equal(d.tableLength, 2);
    const r = d.decode(hex('3f1a' + '82')); // update to 57 (31 + 26), then :method GET
    assert.equal(r.error, null);
    assert.equal(d.tableLength, 1, 'only the newest entry (cache-control: no-cache, 53 bytes) fits');
    assert.equal(d.tableSize, 53);
  });
});

describe('HpackDecoder: unsynced (first seen mid-way, or after a gap)', () => {
  test('references to entries inserted before the capture are unresolved, counted, never guessed', () => {
    const d = new HpackDecoder({ synced: false });
    // C.3.2 refers to :authority (index 62), which C.3.1 inserted before we looked.
    const r = d.decode(hex(C3[1]));
    assert.equal(r.error, null);
    assert.equal(r.unresolved, 1);
    assert.deepEqual(pairs(r.fields), [
      [':method', 'GET'],
      [':scheme', 'http'],
      [':path', '/'],
      [null, null],
      ['cache-control', 'no-cache'],
    ]);
    // C.3.3: index 62 is now cache-control (known), index 63 (bf) the unknown :authority.
    const r3 = d.decode(hex(C3[2]));
    assert.equal(r3.unresolved, 1);
    assert.deepEqual(pairs(r3.fields)[3], [null, null]);
    assert.deepEqual(pairs(r3.fields)[4], ['custom-key', 'custom-value']);
    assert.equal(d.counters.unresolvedBlocks, 2);
  });

  test('a literal whose indexed name is unknown keeps its value and inserts an unknown entry', () => {
    const d = new HpackDecoder({ synced: false });
    // 0x7e: literal with incremental indexing, name index 62 (unknown); value "x".
    const r = d.decode(hex('7e' + '0178' + 'be'));
    assert.deepEqual(pairs(r.fields), [
      [null, 'x'],
      [null, 'x'],
    ]);
    assert.equal(r.unresolved, 2);
  });

  test('a size update to 0 empties the table and makes it known again', () => {
    const d = new HpackDecoder({ synced: false });
    const r = d.decode(hex('20' + C3[0]));
    assert.equal(r.error, null);
    assert.equal(d.synced, true);
    assert.equal(d.counters.resyncs, 1);
  });

  test('loseSync forgets the table: later references to old entries are unresolved', () => {
    const d = new HpackDecoder();
    d.decode(hex(C3[0]));
    d.loseSync();
    const r = d.decode(hex(C3[1]));
    assert.equal(r.unresolved, 1);
    assert.equal(d.counters.syncLosses, 1);
  });

  test('toState / fromState goes on exactly', () => {
    const d = new HpackDecoder();
    d.decode(hex(C4[0]));
    const state = JSON.parse(JSON.stringify(d.toState()));
    const restored = HpackDecoder.fromState(state);
    assert.deepEqual(pairs(restored.decode(hex(C4[1])).fields), C3_HEADERS[1]);
    assert.deepEqual(pairs(restored.decode(hex(C4[2])).fields), C3_HEADERS[2]);
  });
});
