import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type Batch, Batcher } from '../../../sinks/runtime/batcher.ts';
import { waitFor } from '../../helpers/wait.ts';

describe('Batcher', () => {
  it('closes a batch when it is full, in order', () => {
    const batches: Array<Batch<number>> = [];
    const batcher = new Batcher<number>({ maxSize: 3, lingerMs: 60_000 }, (b) => batches.push(b));
    for (let i = 1; i <= 7; i++) batcher.add(i);
    assert.deepEqual(
      batches.map((b) => [b.entries, b.closedBy]),
      [
        [[1, 2, 3], 'size'],
        [[4, 5, 6], 'size'],
      ],
    );
    assert.equal(batcher.size, 1);
    batcher.flush();
    assert.deepEqual(batches.at(-1)?.entries, [7]);
    assert.equal(batches.at(-1)?.closedBy, 'flush');
  });

  it('closes a partial batch after the linger time of its first entry', async () => {
    const batches: Array<Batch<string>> = [];
    const batcher = new Batcher<string>({ maxSize: 100, lingerMs: 10 }, (b) => batches.push(b));
    batcher.add('a');
    batcher.add('b');
    await waitFor('the linger to close the batch', () => batches.length === 1);
    assert.deepEqual(batches[0]!.entries, ['a', 'b']);
    assert.equal(batches[0]!.closedBy, 'linger');
  });

  it('drops the open batch on clear (a rebalance) without emitting it', async () => {
    const batches: Array<Batch<number>> = [];
    const batcher = new Batcher<number>({ maxSize: 10, lingerMs: 5 }, (b) => batches.push(b));
    batcher.add(1);
    batcher.add(2);
    assert.equal(batcher.clear(), 2);
    batcher.add(3);
    await waitFor('the next batch', () => batches.length === 1);
    assert.deepEqual(batches[0]!.entries, [3]);
  });

  it('never emits an empty batch', () => {
    const batches: Array<Batch<number>> = [];
    const batcher = new Batcher<number>({ maxSize: 2, lingerMs: 5 }, (b) => batches.push(b));
    batcher.flush();
    assert.equal(batches.length, 0);
  });
});
