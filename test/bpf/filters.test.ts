/**
 * Real eBPF capture: in-kernel filters (allow-lists by port, process, cgroup; the collector's own
 * exclusion) and the loader's STATS records. Needs root.
 *
 * Absence is asserted the only way that is not a race: the ring buffer delivers records in order, so
 * once a record of traffic made *after* the filtered traffic has arrived, any record of the filtered
 * traffic would have arrived too.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFile } from 'node:child_process';
import { mkdirSync, rmdirSync, statSync } from 'node:fs';
import { createServer, get } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import type { DataRecord, LoaderRecord } from '../../collectors/capture/loader/record-decoder.ts';
import { Capture, isData } from './helpers/capture.ts';
import {
  createPodPair,
  type PodPair,
  podExec,
  requireRoot,
  startServer,
  stopProcess,
} from './helpers/pods.ts';

requireRoot();

const ALLOWED = 8090;
const OTHER = 8091;
const CGROUP_ROOT = '/sys/fs/cgroup/unified';

const curl = (pods: PodPair, port: number) =>
  podExec(pods.a, 'curl', [
    '-sS',
    '-o',
    '/dev/null',
    '-w',
    '%{local_port}',
    `http://${pods.b.addr}:${port}/hello`,
  ]).then(Number);

const touching = (records: LoaderRecord[], port: number) =>
  records.filter((r): r is DataRecord => isData(r) && (r.localPort === port || r.peerPort === port));

describe('in-kernel filters', () => {
  let pods: PodPair;
  let server: ChildProcess | undefined;

  before(async () => {
    pods = createPodPair('filt');
    server = await startServer(pods.b, [`0.0.0.0:${ALLOWED}`, `0.0.0.0:${OTHER}`]);
  });

  after(async () => {
    await stopProcess(server);
    pods?.remove();
  });

  it('--port traces only connections with an allowed local or peer port', async () => {
    const capture = await Capture.start({ ports: [ALLOWED] }, isData);
    try {
      const otherPort = await curl(pods, OTHER);
      const allowedPort = await curl(pods, ALLOWED);
      const seen = await capture.waitFor('both ends of the allowed exchange', (rs) => {
        const mine = touching(rs, allowedPort).filter((r) => r.flags.response);
        return mine.length === 2 && mine;
      });
      assert.deepStrictEqual(new Set(seen.map((r) => r.role)), new Set(['client', 'server']));
      assert.deepStrictEqual(touching(capture.records, otherPort), []);
    } finally {
      await capture.stop();
    }
  });

  it('--pid traces only the listed processes', async () => {
    const capture = await Capture.start({ pids: [server!.pid!] }, isData);
    try {
      const port = await curl(pods, ALLOWED);
      await capture.waitFor('the server side', (rs) => touching(rs, port).some((r) => r.flags.response));
      const mine = touching(capture.records, port);
      // `ip netns exec` execs the server: its pid is the child's pid.
      assert.ok(mine.every((r) => r.tgid === server!.pid && r.role === 'server'));
    } finally {
      await capture.stop();
    }
  });

  it('--cgroup traces only tasks in the listed cgroup v2', async () => {
    const dir = `${CGROUP_ROOT}/meshpipe-test-${process.pid}`;
    mkdirSync(dir);
    const cgroupId = BigInt(statSync(dir).ino);
    const capture = await Capture.start({ cgroups: [dir] }, isData);
    try {
      // A client that moves itself into the cgroup before it connects.
      const { stdout } = await promisify(execFile)('sh', [
        '-c',
        `echo $$ > ${dir}/cgroup.procs && exec ip netns exec ${pods.a.ns} curl -sS -o /dev/null -w '%{local_port}' http://${pods.b.addr}:${ALLOWED}/hello`,
      ]);
      const port = Number(stdout);
      const response = await capture.waitFor('the client reading the response', (rs) =>
        touching(rs, port).find((r) => r.flags.response),
      );
      assert.equal(response.role, 'client');
      assert.equal(response.cgroupId, cgroupId);
      const later = await curl(pods, ALLOWED); // from outside the cgroup
      const all = [...touching(capture.records, port), ...touching(capture.records, later)];
      assert.ok(
        all.every((r) => r.cgroupId === cgroupId && r.role === 'client'),
        'no other task is traced',
      );
    } finally {
      await capture.stop();
      rmdirSync(dir);
    }
  });

  it("never traces the agent (the loader's parent) nor the loader itself, and reports STATS", async () => {
    // An HTTP server and client in this very process: the agent's own traffic.
    const local = createServer((_req, res) => res.end('self\n'));
    await new Promise<void>((resolve) => local.listen(0, '127.0.0.1', resolve));
    const { port } = local.address() as AddressInfo;
    const capture = await Capture.start({ ports: [port], statsMs: 200 }, () => true);
    try {
      await new Promise<void>((resolve, reject) =>
        get(`http://127.0.0.1:${port}/`, (res) => res.resume().on('end', resolve)).on('error', reject),
      );
      // The same server reached by another process is traced (on curl's side only).
      const { stdout } = await promisify(execFile)('curl', [
        '-sS',
        '-o',
        '/dev/null',
        '-w',
        '%{local_port}',
        `http://127.0.0.1:${port}/`,
      ]);
      const curlPort = Number(stdout);
      await capture.waitFor("curl's response", (rs) => touching(rs, curlPort).some((r) => r.flags.response));
      const data = capture.records.filter(isData);
      assert.ok(data.length > 0);
      assert.ok(data.every((r) => r.tgid !== process.pid && r.tgid !== capture.ready.loaderTgid));
      assert.ok(data.every((r) => r.localPort === curlPort && r.role === 'client'));

      const stats = await capture.waitFor('a STATS record after the exchange', (rs) =>
        rs.findLast((r) => r.kind === 'stats' && r.forwardedRecords >= data.length),
      );
      assert.ok(stats.kind === 'stats');
      assert.equal(stats.loaderDroppedRecords, 0);
      assert.equal(stats.kernelDrops.RINGBUF_FULL, 0);
      assert.ok(stats.ringRecords >= data.length);
      assert.ok(stats.monotonicNs > capture.ready.monotonicNs);
    } finally {
      await capture.stop();
      local.close();
    }
  });
});
