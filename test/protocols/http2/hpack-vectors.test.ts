/**
 * The HPACK decoder against header blocks written by two encoders no one in this project wrote: PyPI
 * `hpack` and Go's golang.org/x/net/http2/hpack (vectors/, produced by scripts/hpack-vectors/
 * generate.sh in the shape of http2jp/hpack-test-case). Every story is one connection direction:
 * blocks decode in order with one decoder. Then the same stories are read from every block onward
 * by a decoder that starts mid-way: what it resolves must be exactly right, the rest unresolved.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { HpackDecoder } from '../../../protocols/http2/hpack-decoder.ts';
import { hex } from './fixtures.ts';

interface VectorCase {
  seqno: number;
  wire: string;
  headers: Array<Record<string, string>>;
  table_size?: number;
}
interface VectorFile {
  generator: string;
  stories: Array<{ description: string; cases: VectorCase[] }>;
}

function load(name: string): VectorFile {
  return JSON.parse(readFileSync(new URL(`./vectors/${name}`, import.meta.url), 'utf8')) as VectorFile;
}

const expected = (c: VectorCase) => c.headers.map((h) => Object.entries(h)[0]!);

for (const file of ['python-hpack.json', 'go-hpack.json']) {
  const vectors = load(file);
  describe(`HPACK vectors: ${vectors.generator}`, () => {
    test('there are enough of them', () => {
      const blocks = vectors.stories.reduce((n, s) => n + s.cases.length, 0);
      assert.ok(vectors.stories.length >= 8 && blocks >= 250, `${blocks} blocks`);
    });

    for (const story of vectors.stories) {
      test(`${story.description}: every block, in order`, () => {
        const d = new HpackDecoder();
        for (const c of story.cases) {
          const r = d.decode(hex(c.wire));
          assert.equal(r.error, null, `block ${c.seqno}`);
          assert.equal(r.unresolved, 0);
          assert.deepEqual(
            r.fields.map((f) => [f.name, f.value]),
            expected(c),
            `block ${c.seqno}`,
          );
          if (c.table_size !== undefined) assert.equal(d.tableSize, c.table_size, `table after ${c.seqno}`);
        }
        assert.equal(d.synced, true);
      });

      test(`${story.description}: started mid-way, resolves exactly or not at all`, () => {
        let unresolvedTotal = 0;
        for (let from = 1; from < story.cases.length; from += 3) {
          const d = new HpackDecoder({ synced: false });
          for (const c of story.cases.slice(from)) {
            const r = d.decode(hex(c.wire));
            assert.equal(r.error, null);
            const want = expected(c);
            assert.equal(r.fields.length, want.length);
            r.fields.forEach((f, i) => {
              if (f.name !== null) assert.equal(f.name, want[i]![0], `block ${c.seqno} field ${i}`);
              if (f.value !== null) assert.equal(f.value, want[i]![1], `block ${c.seqno} field ${i}`);
            });
            unresolvedTotal += r.unresolved;
          }
        }
        // Most stories refer back to earlier blocks, so a mid-way start has something it cannot know.
        if (!/Latin-1|larger than the table/.test(story.description)) assert.ok(unresolvedTotal > 0);
      });
    }
  });
}
