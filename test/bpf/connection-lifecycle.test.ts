/**
 * Real eBPF capture: connection identity and lifecycle. IPv6 and v4-mapped sockets, fd reuse,
 * connections older than the capture, non-HTTP traffic, failed connects. Needs root.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import type { DataRecord, LoaderRecord } from '../../collectors/capture/loader/record-decoder.ts';
import { Capture, isConn, isData } from './helpers/capture.ts';
import {
  createPodPair,
  type PodPair,
  podExec,
  podSpawn,
  requireRoot,
  runClient,
  startServer,
  stopProcess,
} from './helpers/pods.ts';

requireRoot();

const HTTP_PORT = 8080;
const DUAL_STACK_PORT = 8082;
const ECHO_PORT = 9000;
const CLOSED_PORT = 9;
/** TEST-NET-1 (RFC 5737): never routed, and a pod has no default route, so connect() fails at once. */
const UNROUTABLE = '192.0.2.1';
const FIXTURES = new URL('./fixtures/', import.meta.url).pathname;

const ofConn = (records: LoaderRecord[], connId: number) =>
  records.filter((r) => isConn(r) && r.connId === connId);

describe('connection lifecycle', () => {
  let pods: PodPair;
  let server: ChildProcess | undefined;
  let loopbackServer: ChildProcess | undefined;
  let capture: Capture | undefined;

  before(async () => {
    pods = createPodPair('life');
    const inodes = new Set([pods.a.inode, pods.b.inode]);
    capture = await Capture.start({}, (r) => isConn(r) && inodes.has(r.netnsInode));
    server = await startServer(pods.b, [`0.0.0.0:${HTTP_PORT}`, `echo:0.0.0.0:${ECHO_PORT}`]);
    loopbackServer = await startServer(pods.a, [`::1:${HTTP_PORT}`, `:::${DUAL_STACK_PORT}`]);
  });

  after(async () => {
    await stopProcess(server);
    await stopProcess(loopbackServer);
    await capture?.stop();
    pods?.remove();
  });

  it('reports IPv6 connections on loopback with IPv6 addresses', async () => {
    const port = Number(
      await podExec(pods.a, 'curl', [
        '-sS',
        '-6',
        '-o',
        '/dev/null',
        '-w',
        '%{local_port}',
        `http://[::1]:${HTTP_PORT}/hello`,
      ]),
    );
    const records = await capture!.waitFor('both ends over ::1', (rs) => {
      const mine = rs.filter(
        (r): r is DataRecord =>
          isData(r) && r.flags.messageStart && (r.localPort === port || r.peerPort === port),
      );
      return mine.length >= 4 && mine;
    });
    for (const r of records) {
      assert.equal(r.family, 6);
      assert.equal(r.localAddr, '::1');
      assert.equal(r.peerAddr, '::1');
      assert.equal(r.netnsInode, pods.a.inode);
      assert.equal(r.flags.v4Mapped, false);
    }
    assert.deepStrictEqual(new Set(records.map((r) => r.role)), new Set(['client', 'server']));
  });

  it('reports IPv4 on a dual-stack socket as IPv4 (v4-mapped), so both ends agree', async () => {
    const port = Number(
      await podExec(pods.a, 'curl', [
        '-sS',
        '-o',
        '/dev/null',
        '-w',
        '%{local_port}',
        `http://127.0.0.1:${DUAL_STACK_PORT}/hello`,
      ]),
    );
    const serverSide = await capture!.waitFor('the dual-stack server reading the request', (rs) =>
      rs.find(
        (r): r is DataRecord =>
          isData(r) && r.role === 'server' && r.peerPort === port && r.flags.messageStart,
      ),
    );
    assert.equal(serverSide.family, 4);
    assert.equal(serverSide.flags.v4Mapped, true);
    assert.equal(serverSide.localAddr, '127.0.0.1');
    assert.equal(serverSide.localPort, DUAL_STACK_PORT);
    assert.equal(serverSide.peerAddr, '127.0.0.1');
  });

  it('gives each connection on a reused fd a new connId and the next generation', async () => {
    const REUSES = 3;
    const { fds, localPorts } = await runClient<{ fds: number[]; localPorts: number[] }>(
      pods.a,
      'reuse',
      pods.b.addr,
      HTTP_PORT,
      REUSES,
    );
    assert.equal(
      new Set(fds.slice(-REUSES)).size,
      1,
      `the client's last ${REUSES} connections reused one fd (${fds})`,
    );
    const opens = await capture!.waitFor(`${localPorts.length} client connections`, (rs) => {
      const mine = localPorts.map((p) =>
        rs.find((r) => r.kind === 'open' && r.netnsInode === pods.a.inode && r.localPort === p),
      );
      return mine.every(Boolean) && (mine as LoaderRecord[]);
    });
    const ids = opens.map((r) => (r.kind === 'open' ? r : assert.fail()));
    assert.ok(ids.every((r, i) => r.fd === fds[i] && r.role === 'client' && r.syscall === 'connect'));
    assert.equal(new Set(ids.map((r) => r.connId)).size, ids.length);
    // The generation counts the connections a (tgid, fd) slot has carried: on each fd, in the order the
    // client made them, one more per connection (this client opens no other sockets).
    const lastOnFd = new Map<number, number>();
    for (const open of ids) {
      const previous = lastOnFd.get(open.fd);
      if (previous !== undefined)
        assert.equal(open.generation, previous + 1, `fd ${open.fd}: next generation`);
      lastOnFd.set(open.fd, open.generation);
    }
    for (const open of ids) {
      const conn = await capture!.waitFor(`CLOSE of ${open.connId}`, (rs) => {
        const mine = ofConn(rs, open.connId);
        return mine.at(-1)?.kind === 'close' && mine;
      });
      assert.ok(conn.every((r) => isConn(r) && r.generation === open.generation));
    }
  });

  it('infers the role of a connection opened before the capture started', async () => {
    const client = podSpawn(pods.a, process.execPath, [
      `${FIXTURES}tcp-client.ts`,
      'wait-then',
      pods.b.addr,
      String(HTTP_PORT),
    ]);
    let late: Capture | undefined;
    try {
      const first = await new Promise<string>((resolve, reject) => {
        let out = '';
        client.stdout!.on('data', (d: Buffer) => {
          out += d.toString();
          if (out.includes('\n')) resolve(out);
        });
        client.once('exit', (code) => reject(new Error(`client exited (${code}) before its first request`)));
      });
      const port = Number(first.split(' ')[1]);
      // This capture starts after connect() and accept(): it has never seen this connection open.
      late = await Capture.start({}, (r) => isData(r) || r.kind === 'open');
      client.stdin!.write('go\n');
      const [clientSide, serverSide] = await capture!.waitFor('the second exchange, seen late', () => {
        const rs = late!.records;
        const c = rs.find(
          (r): r is DataRecord => isData(r) && r.localPort === port && r.netnsInode === pods.a.inode,
        );
        const s = rs.find(
          (r): r is DataRecord => isData(r) && r.peerPort === port && r.netnsInode === pods.b.inode,
        );
        return c && s && [c, s];
      });
      assert.equal(clientSide.role, 'client');
      assert.equal(clientSide.roleInferred, true);
      assert.equal(clientSide.flags.preexisting, true);
      assert.equal(serverSide.role, 'server');
      assert.equal(serverSide.roleInferred, true);
      const open = late.records.find((r) => r.kind === 'open' && r.connId === clientSide.connId);
      assert.ok(open?.kind === 'open');
      assert.equal(open.syscall, 'none');
      assert.equal(open.flags.preexisting, true);
      // The capture that was running all along saw connect(): role known, not inferred.
      const early = capture!.records.find(
        (r): r is DataRecord => isData(r) && r.localPort === port && r.netnsInode === pods.a.inode,
      );
      assert.equal(early?.roleInferred, false);
    } finally {
      await stopProcess(client);
      await late?.stop();
    }
  });

  it('emits nothing for a non-HTTP TCP connection, and keeps capturing', async () => {
    const { localPort, received } = await runClient<{ localPort: number; received: number }>(
      pods.a,
      'garbage',
      pods.b.addr,
      ECHO_PORT,
      256 * 1024,
    );
    assert.equal(received, 256 * 1024);
    // Records are delivered in order: once a later HTTP exchange is in, the garbage would be too.
    const port = Number(
      await podExec(pods.a, 'curl', [
        '-sS',
        '-o',
        '/dev/null',
        '-w',
        '%{local_port}',
        `http://${pods.b.addr}:${HTTP_PORT}/hello`,
      ]),
    );
    await capture!.waitFor('a later HTTP exchange', (rs) =>
      rs.some((r) => isData(r) && r.peerPort === port && r.flags.response),
    );
    const garbage = capture!.records.filter(
      (r) => isConn(r) && (r.localPort === localPort || r.peerPort === localPort),
    );
    assert.deepStrictEqual(garbage, []);
    assert.equal(capture!.loader.decoder.counters.malformed, 0);
  });

  it('reports a refused connect (asynchronous) and an unroutable one (synchronous)', async () => {
    await podExec(pods.a, 'curl', ['-sS', '-o', '/dev/null', `http://${pods.b.addr}:${CLOSED_PORT}/`]).catch(
      () => {},
    );
    const refused = await capture!.waitFor('ECONNREFUSED', (rs) =>
      rs.find(
        (r) => r.kind === 'connect_failed' && r.peerPort === CLOSED_PORT && r.netnsInode === pods.a.inode,
      ),
    );
    assert.ok(refused.kind === 'connect_failed');
    assert.equal(refused.errorCode, 'ECONNREFUSED');
    assert.equal(refused.flags.async, true, 'curl connects non-blocking: the RST answers the handshake');
    assert.equal(refused.peerAddr, pods.b.addr);
    assert.equal(refused.localAddr, pods.a.addr);
    assert.ok(refused.localPort > 0);
    assert.equal(refused.role, 'client');
    assert.equal(refused.connId, 0);
    assert.ok(refused.startedNs <= refused.timestampNs);

    await podExec(pods.a, 'curl', ['-sS', '-o', '/dev/null', `http://${UNROUTABLE}:80/`]).catch(() => {});
    const unreachable = await capture!.waitFor('ENETUNREACH', (rs) =>
      rs.find((r) => r.kind === 'connect_failed' && r.peerAddr === UNROUTABLE),
    );
    assert.ok(unreachable.kind === 'connect_failed');
    assert.equal(unreachable.errorCode, 'ENETUNREACH');
    assert.equal(unreachable.flags.async, false);
    assert.equal(unreachable.syscall, 'connect');
    assert.equal(unreachable.peerPort, 80);
  });
});
