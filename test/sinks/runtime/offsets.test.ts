import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OffsetLedger, PartitionOwnership } from '../../../sinks/runtime/offsets.ts';

const at = (partition: number, offset: number) => ({ partition, offset: String(offset) });

describe('commit planning', () => {
  it('commits one past the highest offset of each partition in the batch', () => {
    const ownership = new PartitionOwnership();
    ownership.assign([0, 1]);
    const ledger = new OffsetLedger();
    const plan = ledger.plan([at(0, 5), at(1, 9), at(0, 7), at(0, 6)], ownership);
    assert.deepEqual(plan.commits, [
      { partition: 0, offset: '8' },
      { partition: 1, offset: '10' },
    ]);
    assert.deepEqual(plan.notOwned, []);
  });

  it('never commits a partition this member no longer owns', () => {
    const ownership = new PartitionOwnership();
    ownership.assign([0, 1, 2]);
    const revoked = ownership.assign([0]);
    assert.deepEqual(revoked, [1, 2]);
    const plan = new OffsetLedger().plan([at(0, 1), at(1, 1), at(2, 1)], ownership);
    assert.deepEqual(plan.commits, [{ partition: 0, offset: '2' }]);
    assert.deepEqual(plan.notOwned, [1, 2]);
  });

  it('never moves a committed position backwards (a batch in flight across a rebalance)', () => {
    const ownership = new PartitionOwnership();
    ownership.assign([0]);
    const ledger = new OffsetLedger();
    ledger.record(ledger.plan([at(0, 99)], ownership).commits);
    assert.equal(ledger.committed(0), 100n);
    assert.deepEqual(ledger.plan([at(0, 50)], ownership).commits, []);
    assert.deepEqual(ledger.plan([at(0, 100)], ownership).commits, [{ partition: 0, offset: '101' }]);
  });

  it('nothing is owned after revokeAll, and each assignment is a new generation', () => {
    const ownership = new PartitionOwnership();
    ownership.assign([3]);
    const generation = ownership.generation;
    ownership.revokeAll();
    assert.ok(ownership.generation > generation);
    assert.deepEqual(new OffsetLedger().plan([at(3, 0)], ownership).notOwned, [3]);
  });
});
