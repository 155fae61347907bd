/**
 * HPACK decoder fuzzing: random blocks never throw and leave a usable decoder; real blocks (the Go
 * encoder's vectors) fed from a random start, interleaved with random garbage and losses (each a gap),
 * are either decoded exactly or reported unresolved / malformed — never decoded wrong.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { HpackDecoder } from '../../../protocols/http2/hpack-decoder.ts';
import { C4, hex } from './fixtures.ts';

interface Story {
  cases: Array<{ wire: string; headers: Array<Record<string, string>> }>;
}
const stories = (
  JSON.parse(readFileSync(new URL('./vectors/go-hpack.json', import.meta.url), 'utf8')) as {
    stories: Story[];
  }
).stories;

describe('HpackDecoder fuzzing', () => {
  test('random blocks never throw; the decoder still decodes afterwards', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 8 }),
        fc.boolean(),
        (blocks, synced) => {
          const d = new HpackDecoder({ synced });
          for (const b of blocks) d.decode(b);
          d.decode(hex('20')); // a size update to 0: the table is known again
          const r = d.decode(hex(C4[0]));
          assert.equal(r.error, null);
          assert.equal(r.unresolved, 0);
        },
      ),
      { numRuns: 1500 },
    );
  });

  test('real blocks from a random start, with garbage and losses between: exact or unresolved, never wrong', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: stories.length - 1 }),
        fc.integer({ min: 0, max: 30 }),
        fc.array(
          fc.oneof(fc.constant('block'), fc.constant('block'), fc.constant('garbage'), fc.constant('loss')),
          {
            minLength: 1,
            maxLength: 20,
          },
        ),
        fc.uint8Array({ minLength: 1, maxLength: 40 }),
        (storyIndex, from, plan, garbage) => {
          const story = stories[storyIndex]!;
          const d = new HpackDecoder({ synced: from === 0 });
          let next = Math.min(from, story.cases.length - 1);
          for (const step of plan) {
            if (step === 'garbage') {
              // Bytes that were not the connection's block: only a capture gap can put them here, and
              // a gap makes the decoder lose sync (connection-decoder.ts). Garbage that happens to be a
              // valid block would otherwise shift the table like a real one.
              d.decode(garbage);
              d.loseSync();
            } else if (step === 'loss') {
              d.loseSync();
              next++; // a block went by unseen
            } else if (next < story.cases.length) {
              const c = story.cases[next++]!;
              const r = d.decode(hex(c.wire));
              if (r.error !== null) continue;
              const want = c.headers.map((h) => Object.entries(h)[0]!);
              assert.equal(r.fields.length, want.length);
              r.fields.forEach((f, i) => {
                if (f.name !== null) assert.equal(f.name, want[i]![0]);
                if (f.value !== null) assert.equal(f.value, want[i]![1]);
              });
            }
          }
        },
      ),
      { numRuns: 1000 },
    );
  });
});
