/** NetnsNames with real `ip netns` namespaces: names by inode, and namespaces added later. Needs root. */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import { NetnsNames } from '../../../../collectors/build/identity/netns-names.ts';
import { requireRoot } from '../../../bpf/helpers/pods.ts';
import { waitFor } from '../../../helpers/wait.ts';

requireRoot();

const names = [`mp-names-${process.pid}-a`, `mp-names-${process.pid}-b`];
const ip = (...args: string[]) => execFileSync('ip', args, { stdio: 'ignore' });

describe('NetnsNames', () => {
  after(() => {
    for (const n of names) {
      try {
        ip('netns', 'delete', n);
      } catch {
        // already gone
      }
    }
  });

  it('names namespaces by inode, sees new ones, and says null for the host namespace', async () => {
    ip('netns', 'add', names[0]!);
    const table = new NetnsNames({ minRefreshMs: 0 });
    const a = statSync(`/run/netns/${names[0]}`).ino;
    assert.equal(table.nameOf(a), names[0]);
    assert.equal(table.nameOf(statSync('/proc/self/ns/net').ino), null);
    const version = table.version;

    ip('netns', 'add', names[1]!);
    const b = statSync(`/run/netns/${names[1]}`).ino;
    assert.equal(table.nameOf(b), names[1], 'an unknown inode re-reads the directory');
    assert.ok(table.version > version);

    ip('netns', 'delete', names[0]!);
    await waitFor('the watcher to see the deletion', () => !table.entries().has(a), { timeoutMs: 5000 });
    table.close();
  });

  it('re-reads at most once per minRefreshMs, however many unnamed inodes it is asked about', () => {
    let now = 0;
    const table = new NetnsNames({ minRefreshMs: 1000, now: () => now });
    table.nameOf(1);
    ip('netns', 'add', `${names[0]}`);
    const inode = statSync(`/run/netns/${names[0]}`).ino;
    now = 500;
    assert.equal(table.nameOf(inode), null, 'within the window: not re-read');
    now = 1000;
    assert.equal(table.nameOf(inode), names[0]);
    table.close();
  });
});
