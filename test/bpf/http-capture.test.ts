/**
 * Real eBPF capture of real HTTP/1.x traffic between two pods (network namespaces joined by a veth
 * pair): what the kernel reports, on both ends of each connection. Needs root.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import type {
  DataRecord,
  LoaderRecord,
  StatsRecord,
} from '../../collectors/capture/loader/record-decoder.ts';
import { Capture, isConn, isData, sentAt, text } from './helpers/capture.ts';
import {
  createPodPair,
  type PodPair,
  podExec,
  requireRoot,
  runClient,
  startServer,
  stopProcess,
} from './helpers/pods.ts';

requireRoot();

const PORT = 8080;
const CAP = 4096;

/** Data records of one side of one TCP connection, identified by the client's ephemeral port. */
function side(records: LoaderRecord[], netns: number, clientPort: number): DataRecord[] {
  return records.filter(
    (r): r is DataRecord =>
      isData(r) && r.netnsInode === netns && (r.localPort === clientPort || r.peerPort === clientPort),
  );
}

/** curl in pod a asks pod b's server for `path`, the body discarded: the numbers `writeOut` names. */
async function curlFromA(pods: PodPair, path: string, writeOut: string): Promise<number[]> {
  const out = await podExec(pods.a, 'curl', [
    '-sS',
    '-o',
    '/dev/null',
    '-w',
    writeOut,
    `http://${pods.b.addr}:${PORT}${path}`,
  ]);
  return out.split(' ').map(Number);
}

function bodyPattern(size: number): string {
  let s = '';
  for (let i = 0; i < size; i++) s += String.fromCharCode(97 + (i % 26));
  return s;
}

describe('HTTP/1.x capture between two pods', () => {
  let pods: PodPair;
  let server: ChildProcess | undefined;
  let capture: Capture | undefined;

  before(async () => {
    pods = createPodPair('http');
    const inodes = new Set([pods.a.inode, pods.b.inode]);
    capture = await Capture.start(
      { capBytes: CAP },
      (r) => r.kind === 'stats' || (isConn(r) && inodes.has(r.netnsInode)),
    );
    server = await startServer(pods.b, [`0.0.0.0:${PORT}`]);
  });

  after(async () => {
    await stopProcess(server);
    await capture?.stop();
    pods?.remove();
  });

  it('reports request and response on both ends with addresses, ports, roles, netns and ordered times', async () => {
    const [status, port] = (await curlFromA(pods, '/hello', '%{http_code} %{local_port}')) as [
      number,
      number,
    ];
    assert.equal(status, 200);

    const [clientReq, clientResp, serverReq, serverResp] = await capture!.waitFor(
      'all four messages',
      (rs) => {
        const client = side(rs, pods.a.inode, port);
        const server = side(rs, pods.b.inode, port);
        const found = [
          client.find((r) => r.direction === 'egress' && r.flags.messageStart),
          client.find((r) => r.direction === 'ingress' && r.flags.response),
          server.find((r) => r.direction === 'ingress' && r.flags.messageStart),
          server.find((r) => r.direction === 'egress' && r.flags.response),
        ];
        return found.every(Boolean) && (found as DataRecord[]);
      },
    );
    assert.ok(clientReq && clientResp && serverReq && serverResp);

    for (const r of [clientReq, clientResp]) {
      assert.equal(r.role, 'client');
      assert.equal(r.roleInferred, false);
      assert.equal(r.netnsInode, pods.a.inode);
      assert.equal(r.family, 4);
      assert.equal(r.localAddr, pods.a.addr);
      assert.equal(r.localPort, port);
      assert.equal(r.peerAddr, pods.b.addr);
      assert.equal(r.peerPort, PORT);
      assert.equal(r.generation, clientReq.generation);
      assert.equal(r.connId, clientReq.connId);
    }
    for (const r of [serverReq, serverResp]) {
      assert.equal(r.role, 'server');
      assert.equal(r.roleInferred, false);
      assert.equal(r.netnsInode, pods.b.inode);
      assert.equal(r.localAddr, pods.b.addr);
      assert.equal(r.localPort, PORT);
      assert.equal(r.peerAddr, pods.a.addr);
      assert.equal(r.peerPort, port);
      assert.equal(r.connId, serverReq.connId);
    }
    assert.notEqual(clientReq.connId, serverReq.connId);
    assert.match(text(clientReq), /^GET \/hello HTTP\/1\.1\r\n/);
    assert.equal(text(serverReq), text(clientReq));
    assert.match(text(serverResp), /^HTTP\/1\.1 200 OK\r\n/);
    assert.equal(clientReq.byteCount, clientReq.captured.length);

    // The request leaves the client before the server reads it, the server answers after reading,
    // and the client reads the answer after it was sent.
    assert.ok(sentAt(clientReq) <= serverReq.timestampNs);
    assert.ok(serverReq.timestampNs <= sentAt(serverResp));
    assert.ok(sentAt(serverResp) <= clientResp.timestampNs);

    // OPEN before the first DATA, CLOSE after the last, for each end.
    for (const connId of [clientReq.connId, serverReq.connId]) {
      const conn = await capture!.waitFor(`CLOSE of connection ${connId}`, (rs) => {
        const mine = rs.filter((r) => isConn(r) && r.connId === connId);
        return mine.at(-1)?.kind === 'close' && mine;
      });
      assert.equal(conn[0]!.kind, 'open');
      assert.equal(conn.filter((r) => r.kind === 'open').length, 1);
      const open = conn[0]!;
      assert.ok(open.kind === 'open');
      assert.equal(open.syscall, open.role === 'client' ? 'connect' : 'accept4');
      assert.ok(open.timestampNs <= (conn[1] as DataRecord).timestampNs);
    }
  });

  it('follows many requests on one keep-alive connection', async () => {
    const N = 20;
    const summary = await runClient<{ statuses: number[]; localPorts: number[] }>(
      pods.a,
      'keepalive',
      pods.b.addr,
      PORT,
      N,
    );
    assert.deepStrictEqual(summary.statuses, Array(N).fill(200));
    assert.equal(summary.localPorts.length, 1, 'one connection');
    const port = summary.localPorts[0]!;
    const [client, server] = await capture!.waitFor(`${N} exchanges`, (rs) => {
      const c = side(rs, pods.a.inode, port);
      const s = side(rs, pods.b.inode, port);
      const responses = c.filter((r) => r.direction === 'ingress' && r.flags.response).length;
      return responses === N && [c, s];
    });
    assert.equal(new Set(client.map((r) => r.connId)).size, 1);
    assert.equal(new Set(server.map((r) => r.connId)).size, 1);
    assert.equal(client.filter((r) => r.direction === 'egress' && r.flags.messageStart).length, N);
    await capture!.waitFor(`${N} requests read by the server`, (rs) => {
      const s = side(rs, pods.b.inode, port);
      return s.filter((r) => r.direction === 'ingress' && r.flags.messageStart).length === N;
    });
    for (let i = 1; i < client.length; i++) assert.ok(client[i - 1]!.timestampNs <= client[i]!.timestampNs);
  });

  it('copies a head written in several pieces, thanks to the per-message budget', async () => {
    const { localPort } = await runClient<{ localPort: number; response: string }>(
      pods.a,
      'split',
      pods.b.addr,
      PORT,
    );
    const expected =
      'GET /hello HTTP/1.1\r\nHost: fixture\r\nX-Split: one\r\nX-Split: two\r\nConnection: close\r\n\r\n';
    const [sent, read] = await capture!.waitFor('the split request on both ends', (rs) => {
      const out = side(rs, pods.a.inode, localPort).filter((r) => r.direction === 'egress');
      const inn = side(rs, pods.b.inode, localPort).filter((r) => r.direction === 'ingress');
      const done = (list: DataRecord[]) => list.map(text).join('').length >= expected.length;
      return done(out) && done(inn) && [out, inn];
    });
    assert.equal(sent.length, 6, 'one record per write');
    assert.equal(sent[0]!.flags.messageStart, true);
    assert.ok(sent.slice(1).every((r) => !r.flags.messageStart && r.captured.length === r.byteCount));
    assert.equal(sent.map(text).join(''), expected);
    assert.ok(read.length >= 2, 'the server read the pieces as they came');
    assert.equal(read.map(text).join(''), expected);
  });

  it('reports every byte of a large body but copies only the budget', async () => {
    const SIZE = 200_000;
    const [headerSize, bodySize, port] = (await curlFromA(
      pods,
      `/big?size=${SIZE}`,
      '%{size_header} %{size_download} %{local_port}',
    )) as [number, number, number];
    assert.equal(bodySize, SIZE);
    const total = headerSize + SIZE;
    for (const [netns, direction] of [
      [pods.a.inode, 'ingress'],
      [pods.b.inode, 'egress'],
    ] as const) {
      const records = await capture!.waitFor(`${direction} bytes of the body`, (rs) => {
        const mine = side(rs, netns, port).filter((r) => r.direction === direction);
        return mine.reduce((n, r) => n + r.byteCount, 0) === total && mine;
      });
      const copied = records.map(text).join('');
      assert.equal(copied.length, CAP, 'exactly the budget was copied');
      assert.match(copied, /^HTTP\/1\.1 200 OK\r\n/);
      const bodyCopied = copied.slice(headerSize);
      assert.equal(bodyCopied, bodyPattern(bodyCopied.length), 'the copied bytes are the first body bytes');
      const beyond = records.filter((r) => r.captured.length === 0);
      assert.ok(beyond.length > 0, 'records past the budget carry lengths only');
      assert.ok(beyond.every((r) => r.flags.truncated && !r.flags.messageStart));
    }
  });

  it("copies Node's writev of a head and 19 body pieces (21 iovecs) whole, and counts no iovec limit", async () => {
    const PARTS = 19;
    const SIZE = 100;
    const [headerSize, port] = (await curlFromA(
      pods,
      `/writev?parts=${PARTS}&size=${SIZE}`,
      '%{size_header} %{local_port}',
    )) as [number, number];
    const total = headerSize + PARTS * SIZE;
    const sent = await capture!.waitFor('the response writev', (rs) =>
      side(rs, pods.b.inode, port).find((r) => r.direction === 'egress' && r.syscall === 'writev'),
    );
    assert.equal(sent.byteCount, total, 'head and body in one syscall');
    assert.equal(sent.captured.length, total, 'every iovec copied');
    assert.equal(sent.flags.iovLimit, false);
    assert.equal(sent.flags.truncated, false);
    assert.match(text(sent), /^HTTP\/1\.1 200 OK\r\n/);
    assert.equal(text(sent).slice(headerSize), bodyPattern(PARTS * SIZE));

    const index = capture!.records.indexOf(sent);
    const stats = await capture!.waitFor('a STATS record after it', (rs) =>
      rs.slice(index).find((r): r is StatsRecord => r.kind === 'stats'),
    );
    // UIO_MAXIOV bounds every successful writev, and the walk goes that far: never counted, whoever wrote.
    assert.equal(stats.kernelDrops.IOV_LIMIT, 0);
  });

  it('finds the chunked terminator at the end of a writev of 25 iovecs', async () => {
    const [size, port] = (await curlFromA(
      pods,
      `/chunked?chunks=6&size=3000&corked=1`,
      '%{size_download} %{local_port}',
    )) as [number, number];
    assert.equal(size, 18_000);
    const sent = await capture!.waitFor('the corked chunked response', (rs) =>
      side(rs, pods.b.inode, port).find((r) => r.direction === 'egress' && r.flags.messageStart),
    );
    assert.equal(sent.syscall, 'writev');
    assert.ok(sent.byteCount > 18_000, 'head, chunks and terminator in one syscall');
    assert.equal(sent.captured.length, CAP, 'the budget copied across the iovecs');
    assert.equal(sent.flags.chunkTerminator, true, 'the last of 25 iovecs ends the body');
    assert.equal(sent.flags.iovLimit, false);
  });

  it('flags the end of a chunked body without copying it', async () => {
    const [size, port] = (await curlFromA(
      pods,
      `/chunked?chunks=4&size=3000`,
      '%{size_download} %{local_port}',
    )) as [number, number];
    assert.equal(size, 12_000);
    for (const [netns, direction] of [
      [pods.b.inode, 'egress'],
      [pods.a.inode, 'ingress'],
    ] as const) {
      const records = await capture!.waitFor(`chunk terminator (${direction})`, (rs) => {
        const mine = side(rs, netns, port).filter((r) => r.direction === direction);
        return mine.some((r) => r.flags.chunkTerminator) && mine;
      });
      const flagged = records.filter((r) => r.flags.chunkTerminator);
      assert.equal(flagged.length, 1, 'only the buffer that ends the body');
      assert.equal(flagged[0], records.at(-1), 'and it is the last one');
      assert.ok(flagged[0]!.captured.length < flagged[0]!.byteCount, 'its tail was not copied');
    }
  });
});
