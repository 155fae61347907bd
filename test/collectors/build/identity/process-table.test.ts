/** ProcessTable against real processes: a live one, one that exited, and a server's listening ports. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { describe, it } from 'node:test';
import { ProcessTable, parentOf } from '../../../../collectors/build/identity/process-table.ts';

describe('ProcessTable', () => {
  it('reads comm, exe, parent and cgroups of a live process, and caches them', async () => {
    const child = spawn('sleep', ['30']);
    try {
      await new Promise((r) => child.once('spawn', r));
      const table = new ProcessTable();
      const info = table.get(child.pid!);
      assert.equal(info.comm, 'sleep');
      assert.match(info.exe ?? '', /\/sleep$/);
      assert.equal(info.ppid, process.pid);
      assert.equal(info.cgroups, readFileSync(`/proc/${child.pid}/cgroup`, 'latin1'));
      table.get(child.pid!);
      assert.deepEqual(table.counters, { lookups: 2, reads: 1, exited: 0 });
    } finally {
      child.kill();
    }
  });

  it('answers null fields for a process that is gone, and caches that too', async () => {
    const child = spawn('true');
    await new Promise((r) => child.once('exit', r));
    const table = new ProcessTable();
    const info = table.get(child.pid!);
    assert.deepEqual(info, { pid: child.pid, comm: null, exe: null, ppid: null, cgroups: null });
    table.get(child.pid!);
    assert.deepEqual(table.counters, { lookups: 2, reads: 1, exited: 1 });
  });

  it('looks again after the TTL', () => {
    let now = 0;
    const table = new ProcessTable({ ttlMs: 1000, now: () => now });
    table.get(process.pid);
    now = 999;
    table.get(process.pid);
    now = 1000;
    table.get(process.pid);
    assert.equal(table.counters.reads, 2);
  });

  it('finds the TCP ports a process listens on (IPv4 and IPv6)', async () => {
    const servers = [createServer(), createServer()];
    await new Promise<void>((r) => servers[0]!.listen(0, '127.0.0.1', r));
    await new Promise<void>((r) => servers[1]!.listen(0, '::1', r));
    try {
      const ports = servers.map((s) => (s.address() as { port: number }).port);
      const found = new ProcessTable().listeningPorts(process.pid);
      for (const port of ports) assert.ok(found.has(port), `port ${port} in ${[...found]}`);
    } finally {
      for (const s of servers) s.close();
    }
  });

  it('parses the parent out of /proc/<pid>/stat even when the command has spaces and parentheses', () => {
    assert.equal(parentOf('4242 (my (odd) cmd) S 17 4242 4242 0 -1'), 17);
    assert.equal(parentOf('garbage'), null);
    assert.equal(parentOf(null), null);
  });
});
