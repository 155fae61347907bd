import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, it } from 'node:test';
import { claimInstanceSlot } from '../../lib/instance-slot.ts';

describe('instance slot (group.instance.id)', () => {
  const saved = process.env.MESHPIPE_INSTANCE_ID;
  afterEach(() => {
    if (saved === undefined) delete process.env.MESHPIPE_INSTANCE_ID;
    else process.env.MESHPIPE_INSTANCE_ID = saved;
  });

  it('gives live processes of one group distinct slots, and a released slot to the next', () => {
    delete process.env.MESHPIPE_INSTANCE_ID;
    const dir = mkdtempSync(join(tmpdir(), 'meshpipe-slots-'));
    const a = claimInstanceSlot('meshpipe-span-assembler', { dir, host: 'node-1' });
    const b = claimInstanceSlot('meshpipe-span-assembler', { dir, host: 'node-1' });
    const other = claimInstanceSlot('meshpipe-trace-linker', { dir, host: 'node-1' });
    assert.deepEqual([a.id, b.id, other.id], ['node-1-0', 'node-1-1', 'node-1-0']);
    a.release();
    assert.equal(claimInstanceSlot('meshpipe-span-assembler', { dir, host: 'node-1' }).id, 'node-1-0');
  });

  it('takes over the slot of a process that is gone (a restart after SIGKILL)', () => {
    delete process.env.MESHPIPE_INSTANCE_ID;
    const dir = mkdtempSync(join(tmpdir(), 'meshpipe-slots-'));
    // A real process that has exited: its pid file stays behind, as after a SIGKILL.
    const gone = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
    writeFileSync(join(dir, 'meshpipe-counter.0.pid'), `${gone.stdout.toString()} 12345\n`);
    assert.equal(claimInstanceSlot('meshpipe-counter', { dir, host: 'pod-a' }).id, 'pod-a-0');
  });

  it('MESHPIPE_INSTANCE_ID overrides the id, made acceptable to Kafka', () => {
    process.env.MESHPIPE_INSTANCE_ID = 'orders/span assembler#1';
    assert.equal(claimInstanceSlot('meshpipe-span-assembler').id, 'orders-span-assembler-1');
  });
});
