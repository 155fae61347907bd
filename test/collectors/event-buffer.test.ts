import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EventBuffer } from '../../collectors/event-buffer.ts';

const event = (n: number, size = 10) => ({ key: Buffer.from(`k${n}`), value: Buffer.alloc(size, n) });

describe('EventBuffer', () => {
  it('refuses new events beyond its count, keeps order, and grows its ring as needed', () => {
    const buffer = new EventBuffer(3000, 1 << 30);
    for (let i = 0; i < 3000; i++) assert.ok(buffer.offer(event(i)));
    assert.equal(buffer.offer(event(3000)), false, 'full by count');
    const taken = buffer.take(2500, 1 << 30);
    assert.equal(taken.length, 2500);
    assert.deepEqual(
      taken.slice(0, 3).map((e) => e.key.toString()),
      ['k0', 'k1', 'k2'],
    );
    for (let i = 3000; i < 5000; i++) assert.ok(buffer.offer(event(i)), `offer ${i}`);
    const rest = buffer.take(10_000, 1 << 30);
    assert.deepEqual(
      rest.map((e) => Number(e.key.toString().slice(1))),
      [...Array(2500).keys()].map((i) => 2500 + i),
    );
    assert.equal(buffer.size, 0);
    assert.equal(buffer.bytes, 0);
  });

  it('bounds bytes (key and value), and takes at most maxBytes but always one event', () => {
    const buffer = new EventBuffer(1000, 100);
    assert.ok(buffer.offer(event(1, 40))); // 42 bytes with the key
    assert.ok(buffer.offer(event(2, 40)));
    assert.equal(buffer.full(), false);
    assert.equal(buffer.offer(event(3, 40)), false, 'full by bytes');
    assert.equal(buffer.bytes, 84);
    assert.equal(buffer.take(10, 50).length, 1);
    assert.equal(buffer.take(10, 1).length, 1, 'an event larger than maxBytes still goes');
  });

  it('wakes a waiting consumer, and resolves on abort', async () => {
    const buffer = new EventBuffer(10, 1000);
    const waiting = buffer.whenNotEmpty(new AbortController().signal);
    buffer.offer(event(1));
    await waiting;
    buffer.take(10, 1000);
    const controller = new AbortController();
    const aborted = buffer.whenNotEmpty(controller.signal);
    controller.abort();
    await aborted;
  });
});
