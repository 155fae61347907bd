/**
 * Real eBPF capture of real HTTP/2 traffic between two pods: @grpc/grpc-js client and server (every
 * kind of call), Node's http2 module (h2c), a Python grpcio client no one here wrote, and a connection
 * opened before the capture. The loader's records of each end are reassembled by protocols/http2
 * (frame reader, HPACK, pairing) and compared with what the clients themselves saw. Needs root.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { Flag } from '../../collectors/capture/loader/record-layout.ts';
import type { ScenarioSummary } from '../../testkit/grpc-service.ts';
import { Capture, isConn } from './helpers/capture.ts';
import { reassemble } from './helpers/h2-reassemble.ts';
import {
  createPodPair,
  type PodPair,
  podExec,
  podSpawn,
  requireRoot,
  startFixture,
  stopProcess,
} from './helpers/pods.ts';

requireRoot();

const GRPC_PORT = 50051;
const H2C_PORT = 8082;
const FIXTURE = new URL('../../testkit/grpc-service.ts', import.meta.url).pathname;
const PY_CLIENT = new URL('./fixtures/grpc_client.py', import.meta.url).pathname;
const PYTHON = new URL('../../.local/python/bin/python', import.meta.url).pathname;

const lastJson = <T>(stdout: string): T => JSON.parse(stdout.trim().split('\n').at(-1)!) as T;

describe('HTTP/2 capture between two pods', () => {
  let pods: PodPair;
  let grpcServer: ChildProcess | undefined;
  let h2cServer: ChildProcess | undefined;
  let capture: Capture | undefined;

  before(async () => {
    pods = createPodPair('h2');
    const inodes = new Set([pods.a.inode, pods.b.inode]);
    capture = await Capture.start({}, (r) => isConn(r) && inodes.has(r.netnsInode));
    grpcServer = await startFixture(pods.b, FIXTURE, ['server', `0.0.0.0:${GRPC_PORT}`]);
    h2cServer = await startFixture(pods.b, FIXTURE, ['h2c-server', `0.0.0.0:${H2C_PORT}`]);
  });

  after(async () => {
    await stopProcess(grpcServer);
    await stopProcess(h2cServer);
    await capture?.stop();
    pods?.remove();
  });

  it('grpc-js: every call on both ends, paired, named, with status and exact message counts', async () => {
    const summary = lastJson<ScenarioSummary>(
      await podExec(
        pods.a,
        process.execPath,
        [FIXTURE, 'client', `${pods.b.addr}:${GRPC_PORT}`, 'all'],
        60_000,
      ),
    );
    const n = summary.calls.length;
    for (const [name, netns] of [
      ['client', pods.a.inode],
      ['server', pods.b.inode],
    ] as const) {
      const got = await capture!.waitFor(
        `${n} exchanges on the ${name}`,
        (rs) => {
          const r = reassemble(rs, netns, GRPC_PORT);
          return r.exchanges.length >= n && r;
        },
        30_000,
      );
      assert.equal(got.events.filter((e) => e.kind === 'gap').length, 0, `${name}: no gap`);
      assert.ok(
        got.records.every((r) => !r.flags.truncated),
        `${name}: every buffer followed to its end`,
      );
      assert.ok(
        got.records.some((r) => (r.flagBits & Flag.H2_ELIDED) !== 0),
        `${name}: large buffers were walked (40 KB of metadata)`,
      );
      const headers = got.events.filter((e) => e.kind === 'headers');
      assert.ok(
        headers.every((e) => e.kind === 'headers' && e.lost === null && e.unresolved === 0 && !e.hpackError),
      );
      const byStream = [...got.exchanges].sort((a, b) => a.streamId - b.streamId);
      assert.equal(byStream.length, n, `${name}: one exchange per call`);
      summary.calls.forEach((call, i) => {
        const x = byStream[i]!;
        assert.equal(x.grpc?.service, 'inventory.v1.Inventory', `${name} call ${i}`);
        assert.equal(x.grpc?.method, call.method, `${name} call ${i}`);
        if (call.code === 1) {
          assert.equal(x.incompleteReason, 'reset', `${name}: cancelled call ${i}`);
          assert.equal(x.reset?.errorCode, 8);
        } else if (call.code === 4) {
          assert.ok(
            x.incompleteReason === 'reset' || x.grpc?.statusCode === 4,
            `${name}: deadline call ${i}`,
          );
        } else {
          assert.equal(x.complete, true, `${name} call ${i}: ${x.incompleteReason}`);
          assert.equal(x.grpc?.statusCode, call.code, `${name} call ${i}`);
          assert.equal(x.grpc?.requestMessages, call.sent, `${name} call ${i} sent`);
          assert.equal(x.grpc?.responseMessages, call.received, `${name} call ${i} received`);
          assert.equal(x.grpc?.messagesExact, true, `${name} call ${i}`);
        }
      });
      const big = byStream.find((x) => x.request?.headers.some((f) => f.name === 'x-big'))!;
      assert.equal(big.request!.headers.find((f) => f.name === 'x-big')!.value!.length, 40_000);
      assert.equal(big.request!.headers.find((f) => f.name === 'authorization')!.value, '[REDACTED]');
    }
  });

  it('Node http2 (h2c): plain requests on both ends', async () => {
    const { statuses } = lastJson<{ statuses: number[] }>(
      await podExec(pods.a, process.execPath, [FIXTURE, 'h2c-client', `${pods.b.addr}:${H2C_PORT}`, '8']),
    );
    assert.deepEqual(statuses, Array(8).fill(200));
    for (const netns of [pods.a.inode, pods.b.inode]) {
      const got = await capture!.waitFor('8 h2c exchanges', (rs) => {
        const r = reassemble(rs, netns, H2C_PORT);
        return r.exchanges.length >= 8 && r;
      });
      const xs = [...got.exchanges].sort((a, b) => a.streamId - b.streamId);
      xs.forEach((x, i) => {
        assert.equal(x.complete, true);
        assert.equal(x.method, 'GET');
        assert.equal(x.path, `/hello?i=${i}&token=[REDACTED]`);
        assert.equal(x.status, 200);
        assert.equal(x.response!.dataBytes, 12);
      });
    }
  });

  it('a connection opened before the capture: found by its frames, decoded as far as can be known', async () => {
    const client = podSpawn(pods.a, process.execPath, [
      FIXTURE,
      'h2c-wait-then',
      `${pods.b.addr}:${H2C_PORT}`,
      '6',
    ]);
    let output = '';
    client.stdout!.on('data', (d: Buffer) => {
      output += d.toString();
    });
    const exited = new Promise((resolve) => client.once('exit', resolve));
    const deadline = Date.now() + 15_000;
    while (!output.includes('first\n') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.ok(output.includes('first\n'), 'the client made its first request');
    // A second loader starts now: for it, the connection predates the capture.
    const inodes = new Set([pods.a.inode, pods.b.inode]);
    const late = await Capture.start({}, (r) => isConn(r) && inodes.has(r.netnsInode));
    try {
      client.stdin!.write('go\n');
      await exited;
      const { statuses } = lastJson<{ statuses: number[] }>(output);
      assert.deepEqual(statuses, Array(7).fill(200));
      const got = await late.waitFor('6 exchanges seen mid-way', (rs) => {
        const r = reassemble(rs, pods.a.inode, H2C_PORT);
        return r.exchanges.filter((x) => x.status !== null).length >= 6 && r;
      });
      assert.ok(got.records.every((r) => r.flags.preexisting && r.role === 'unknown'));
      const xs = got.exchanges.filter((x) => x.status !== null).sort((a, b) => a.streamId - b.streamId);
      xs.forEach((x, i) => {
        // What is resolved is exactly right; what refers to entries inserted before the capture
        // (here :authority, from the first request) is unresolved and counted, never guessed.
        assert.equal(x.status, 200);
        assert.equal(x.method, 'GET');
        assert.equal(x.path, `/hello?i=${i + 1}&token=[REDACTED]`);
        assert.ok(x.authority === null || x.authority === `${pods.b.addr}:${H2C_PORT}`);
      });
      const unresolved = got.events.reduce((n, e) => n + (e.kind === 'headers' ? e.unresolved : 0), 0);
      assert.ok(unresolved > 0, 'references to the table of before the capture are counted');
    } finally {
      await late.stop();
      await stopProcess(client);
    }
  });

  it('Python grpcio (a client no one here wrote) against the grpc-js server', async (t) => {
    if (!existsSync(PYTHON)) {
      assert.fail(`${PYTHON} is missing: run scripts/setup (it installs grpcio from PyPI)`);
    }
    const N = 20;
    const { codes } = lastJson<{ codes: number[] }>(
      await podExec(pods.a, PYTHON, [PY_CLIENT, `${pods.b.addr}:${GRPC_PORT}`, String(N)], 60_000),
    );
    assert.equal(codes.length, N);
    // The Python client's connection is the one whose requests carry its user agent.
    for (const netns of [pods.a.inode, pods.b.inode]) {
      const got = await capture!.waitFor(`${N} Python calls`, (rs) => {
        const r = reassemble(rs, netns, GRPC_PORT);
        const py = r.exchanges.filter((x) =>
          x.request?.headers.some((f) => f.name === 'user-agent' && f.value?.startsWith('grpc-python')),
        );
        return py.length >= N && py;
      });
      const xs = [...got].sort((a, b) => a.streamId - b.streamId);
      xs.forEach((x, i) => {
        assert.equal(x.complete, true);
        assert.equal(x.grpc?.method, 'Reserve');
        assert.equal(x.grpc?.statusCode, codes[i]);
        assert.equal(x.request!.headers.find((f) => f.name === 'authorization')!.value, '[REDACTED]');
      });
    }
    t.diagnostic(`codes ${codes.join(',')}`);
  });
});
