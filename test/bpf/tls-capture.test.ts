/**
 * Real eBPF capture of real TLS between two pods: the plaintext read through uprobes on OpenSSL, with
 * the connection identity of the syscalls, and never the ciphertext. nginx and curl use the system
 * libssl (socket BIOs), node its built-in OpenSSL (memory BIOs), Python's `requests` the system libssl
 * through SSL_read_ex/SSL_write_ex. Needs root.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type {
  DataRecord,
  LoaderRecord,
  TlsLibraryRecord,
} from '../../collectors/capture/loader/record-decoder.ts';
import { waitFor } from '../helpers/wait.ts';
import { Capture, isConn, isData, sentAt, text } from './helpers/capture.ts';
import { reassemble } from './helpers/h2-reassemble.ts';
import { createPodPair, type PodPair, podExec, podSpawn, requireRoot, stopProcess } from './helpers/pods.ts';
import { makeCertificate, PYTHON, startTlsNginx, systemLibssl, type TlsFiles } from './helpers/tls.ts';

requireRoot();

const PORT = 8443; // nginx, for curl
const PY_PORT = 8444; // nginx, for Python
const NODE_PORT = 9443; // the node https server
const H2_PORT = 9444; // the node HTTP/2 (ALPN h2) server
const CAP = 4096;
const BIG = 200_000;
const FIXTURES = new URL('fixtures/', import.meta.url).pathname;
const NODE = realpathSync(process.execPath);
const LIBSSL = systemLibssl();

/** Records of one side of one TCP connection, identified by the client's ephemeral port. */
function side(records: LoaderRecord[], netns: number, clientPort: number) {
  return records.filter(
    (r) => isConn(r) && r.netnsInode === netns && (r.localPort === clientPort || r.peerPort === clientPort),
  );
}

const dataOf = (records: LoaderRecord[]) => records.filter(isData);

/** Every DATA record is plaintext read by the uprobes; none is a syscall's (that would be ciphertext). */
function assertPlaintextOnly(records: LoaderRecord[]): void {
  for (const r of records) {
    if (!isConn(r)) continue;
    assert.equal(r.flags.tls, true, `${r.kind} of connection ${r.connId} is flagged TLS`);
    if (r.kind !== 'data') continue;
    assert.ok(r.syscall === 'ssl_read' || r.syscall === 'ssl_write', `a ${r.syscall} record is ciphertext`);
    // A TLS record starts with its content type (0x14..0x17) and version 0x03: never what we report.
    assert.ok(!(r.captured[0]! >= 0x14 && r.captured[0]! <= 0x17 && r.captured[1] === 3), 'ciphertext bytes');
  }
}

describe('TLS plaintext capture between two pods', () => {
  let pods: PodPair;
  let tls: TlsFiles;
  let capture: Capture | undefined;
  let nginx: { stop(): Promise<void> } | undefined;
  let nodeServer: ChildProcess | undefined;
  let h2Server: ChildProcess | undefined;
  const url = (port: number, path: string) => `https://${pods.b.addr}:${port}${path}`;

  before(async () => {
    pods = createPodPair('tls');
    tls = makeCertificate(pods.b.addr);
    const inodes = new Set([pods.a.inode, pods.b.inode]);
    capture = await Capture.start(
      { capBytes: CAP, tls: true },
      (r) => r.kind === 'tls_library' || (isConn(r) && inodes.has(r.netnsInode)),
    );
    assert.equal(capture.ready.features.tls, true);
    nginx = await startTlsNginx(pods.b, [PORT, PY_PORT], tls, BIG);
  });

  after(async () => {
    await stopProcess(h2Server);
    await stopProcess(nodeServer);
    await nginx?.stop();
    await capture?.stop();
    pods?.remove();
    tls?.remove();
  });

  it('nginx and curl (libssl): plaintext on both ends, with the identity of the syscalls, never ciphertext', async () => {
    const out = await podExec(pods.a, 'curl', [
      '-sS',
      '--cacert',
      tls.ca,
      '-o',
      '/dev/null',
      '-w',
      '%{http_code} %{local_port}',
      url(PORT, '/hello'),
    ]);
    const [status, port] = out.split(' ').map(Number) as [number, number];
    assert.equal(status, 200);

    const [clientReq, clientResp, serverReq, serverResp] = await capture!.waitFor(
      'all four messages',
      (rs) => {
        const client = dataOf(side(rs, pods.a.inode, port));
        const server = dataOf(side(rs, pods.b.inode, port));
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
    assert.equal(clientReq.syscall, 'ssl_write');
    assert.equal(clientResp.syscall, 'ssl_read');
    assert.equal(serverReq.syscall, 'ssl_read');
    assert.equal(serverResp.syscall, 'ssl_write');
    assert.match(text(clientReq), /^GET \/hello HTTP\/1\.1\r\nHost: 10\.231\.0\.2:8443\r\n/);
    assert.equal(text(serverReq), text(clientReq));
    assert.match(text(serverResp), /^HTTP\/1\.1 200 OK\r\nServer: nginx/);
    for (const r of [clientReq, clientResp]) {
      assert.equal(r.role, 'client');
      assert.equal(r.roleInferred, false);
      assert.equal(r.localAddr, pods.a.addr);
      assert.equal(r.localPort, port);
      assert.equal(r.peerAddr, pods.b.addr);
      assert.equal(r.peerPort, PORT);
      assert.equal(r.connId, clientReq.connId);
    }
    for (const r of [serverReq, serverResp]) {
      assert.equal(r.role, 'server');
      assert.equal(r.localPort, PORT);
      assert.equal(r.peerPort, port);
      assert.equal(r.connId, serverReq.connId);
    }
    // The request is written before it is read, the answer after.
    assert.ok(sentAt(clientReq) <= serverReq.timestampNs);
    assert.ok(serverReq.timestampNs <= sentAt(serverResp));
    assert.ok(sentAt(serverResp) <= clientResp.timestampNs);

    // Each end: OPEN from connect()/accept() before the first DATA, CLOSE after the last, all TLS.
    for (const [pod, connId, opened] of [
      [pods.a, clientReq.connId, 'connect'],
      [pods.b, serverReq.connId, 'accept4'],
    ] as const) {
      const conn = await capture!.waitFor(`CLOSE of connection ${connId}`, (rs) => {
        const mine = side(rs, pod.inode, port).filter((r) => isConn(r) && r.connId === connId);
        return mine.at(-1)?.kind === 'close' && mine;
      });
      assert.equal(conn[0]!.kind, 'open');
      assert.ok(conn[0]!.kind === 'open' && conn[0]!.syscall === opened);
      assertPlaintextOnly(conn);
    }
  });

  it('follows a keep-alive connection through a large body: every byte counted, only the budget copied', async () => {
    const out = await podExec(pods.a, 'curl', [
      '-sS',
      '--cacert',
      tls.ca,
      '-o',
      '/dev/null',
      '-o',
      '/dev/null',
      '-w',
      '%{local_port} %{size_header} %{size_download}\n',
      url(PORT, '/hello'),
      url(PORT, '/big'),
    ]);
    const transfers = out
      .trim()
      .split('\n')
      .map((l) => l.split(' ').map(Number) as [number, number, number]);
    assert.equal(transfers.length, 2);
    assert.equal(transfers[0]![0], transfers[1]![0], 'curl reused the connection');
    assert.equal(transfers[1]![2], BIG);
    const port = transfers[0]![0];
    const total = transfers.reduce((n, [, header, body]) => n + header + body, 0);

    const client = await capture!.waitFor('every byte of both answers read by the client', (rs) => {
      const mine = side(rs, pods.a.inode, port);
      const read = dataOf(mine)
        .filter((r) => r.direction === 'ingress')
        .reduce((n, r) => n + r.byteCount, 0);
      return read === total && mine;
    });
    assertPlaintextOnly(client);
    const data = dataOf(client);
    assert.equal(new Set(data.map((r) => r.connId)).size, 1, 'one connection');
    assert.equal(data.filter((r) => r.direction === 'egress' && r.flags.messageStart).length, 2);
    const responses = data.filter((r) => r.direction === 'ingress');
    const second = responses.findIndex((r, i) => i > 0 && r.flags.response);
    const bigResponse = responses.slice(second);
    assert.ok(bigResponse.length > 1, 'the large answer came in several SSL_read calls');
    // The copy budget: at most CAP bytes of the answer's head and body left the kernel.
    assert.ok(bigResponse.reduce((n, r) => n + r.captured.length, 0) <= CAP);
    assert.ok(bigResponse.at(-1)!.flags.truncated);
  });

  it('node https server and client (built-in OpenSSL): a process started after the capture is probed', async () => {
    nodeServer = podSpawn(pods.b, process.execPath, [
      `${FIXTURES}https-server.ts`,
      `0.0.0.0:${NODE_PORT}`,
      tls.cert,
      tls.key,
    ]);
    await new Promise<void>((resolve, reject) => {
      let output = '';
      const onData = (d: Buffer) => {
        output += d.toString();
        if (output.includes('ready\n')) resolve();
      };
      nodeServer!.stdout!.on('data', onData);
      nodeServer!.stderr!.on('data', onData);
      nodeServer!.once('exit', (code) => reject(new Error(`https server exited (${code}): ${output}`)));
    });
    // The node executable is probed: found running (this test's own processes) or at the server's exec.
    const attached = await capture!.waitFor('the uprobes on node', (rs) =>
      rs.find(
        (r): r is TlsLibraryRecord => r.kind === 'tls_library' && r.state === 'attached' && r.path === NODE,
      ),
    );
    assert.ok(attached.functions.includes('SSL_read') && attached.functions.includes('SSL_write'));

    const N = 5;
    const out = await podExec(pods.a, process.execPath, [
      `${FIXTURES}https-client.ts`,
      url(NODE_PORT, '/hello'),
      String(N),
      tls.ca,
    ]);
    const summary = JSON.parse(out) as { statuses: number[]; localPorts: number[] };
    assert.deepEqual(summary.statuses, Array(N).fill(200));
    assert.equal(summary.localPorts.length, 1, 'one keep-alive connection');
    const port = summary.localPorts[0]!;
    const [client, server] = await capture!.waitFor(`${N} exchanges on both ends`, (rs) => {
      const c = dataOf(side(rs, pods.a.inode, port));
      const s = dataOf(side(rs, pods.b.inode, port));
      const count = (list: DataRecord[], dir: string, response: boolean) =>
        list.filter((r) => r.direction === dir && r.flags.messageStart && r.flags.response === response)
          .length;
      return (
        count(c, 'egress', false) === N &&
        count(c, 'ingress', true) === N &&
        count(s, 'ingress', false) === N &&
        count(s, 'egress', true) === N && [c, s]
      );
    });
    assertPlaintextOnly([...client, ...server]);
    // The first request was written while the handshake was under way, before node had its socket
    // tied to the SSL*: it was held in the kernel until the tie, not lost.
    const first = client.find((r) => r.direction === 'egress')!;
    assert.match(text(first), /^GET \/hello HTTP\/1\.1\r\n/);
    assert.ok(client.every((r) => r.role === 'client' && r.peerPort === NODE_PORT));
    assert.ok(server.every((r) => r.role === 'server' && r.localPort === NODE_PORT));
    assert.match(text(server.find((r) => r.direction === 'egress')!), /^HTTP\/1\.1 200 OK\r\n/);
  });

  it('HTTP/2 over TLS (ALPN h2, node both ends): its frames followed and reassembled as in clear text', async () => {
    h2Server = podSpawn(pods.b, process.execPath, [
      `${FIXTURES}h2-tls.ts`,
      'server',
      `0.0.0.0:${H2_PORT}`,
      tls.cert,
      tls.key,
    ]);
    await new Promise<void>((resolve, reject) => {
      let output = '';
      const onData = (d: Buffer) => {
        output += d.toString();
        if (output.includes('ready\n')) resolve();
      };
      h2Server!.stdout!.on('data', onData);
      h2Server!.stderr!.on('data', onData);
      h2Server!.once('exit', (code) => reject(new Error(`h2 server exited (${code}): ${output}`)));
    });
    const N = 3;
    const out = await podExec(pods.a, process.execPath, [
      `${FIXTURES}h2-tls.ts`,
      'client',
      url(H2_PORT, ''),
      String(N),
      tls.ca,
    ]);
    assert.deepEqual((JSON.parse(out) as { statuses: number[] }).statuses, Array(N).fill(200));
    for (const [name, pod] of [
      ['client', pods.a],
      ['server', pods.b],
    ] as const) {
      const got = await capture!.waitFor(`${N} exchanges on the ${name}`, (rs) => {
        const r = reassemble(rs, pod.inode, H2_PORT);
        return r.exchanges.length >= N && r;
      });
      assert.deepEqual(
        got.exchanges.map((x) => `${x.method} ${x.path} ${x.status}`).sort(),
        Array.from({ length: N }, (_, i) => `GET /hello?i=${i} 200`),
        name,
      );
      assert.equal(got.events.filter((e) => e.kind === 'gap').length, 0, `${name}: no gap`);
      assertPlaintextOnly(got.records);
    }
  });

  it("python's requests (ssl module, SSL_read_ex/SSL_write_ex) against nginx", async () => {
    assert.ok(existsSync(PYTHON), `${PYTHON} is missing: run scripts/setup`);
    const N = 3;
    const out = await podExec(pods.a, PYTHON, [
      `${FIXTURES}https-client.py`,
      url(PY_PORT, '/hello'),
      String(N),
      tls.ca,
    ]);
    assert.deepEqual((JSON.parse(out) as { statuses: number[] }).statuses, Array(N).fill(200));
    const client = await capture!.waitFor(`${N} answers read by python`, (rs) => {
      const mine = rs.filter((r) => isConn(r) && r.netnsInode === pods.a.inode && r.peerPort === PY_PORT);
      return dataOf(mine).filter((r) => r.direction === 'ingress' && r.flags.response).length === N && mine;
    });
    assertPlaintextOnly(client);
    const requests = dataOf(client).filter((r) => r.direction === 'egress' && r.flags.messageStart);
    assert.equal(requests.length, N);
    assert.match(text(requests[0]!), /^GET \/hello HTTP\/1\.1\r\n.*User-Agent: python-requests\//s);
    assert.equal(new Set(requests.map((r) => r.connId)).size, 1, 'one session, one connection');
    const server = await capture!.waitFor('the requests read by nginx', (rs) => {
      const mine = dataOf(rs).filter(
        (r) =>
          r.netnsInode === pods.b.inode && r.localPort === PY_PORT && r.peerPort === requests[0]!.localPort,
      );
      return mine.filter((r) => r.direction === 'ingress' && r.flags.messageStart).length === N && mine;
    });
    assertPlaintextOnly(server);
  });

  it('probes a libssl no process used before as soon as one maps it, and detaches when none does', async () => {
    // A copy of the system libssl is a file of its own (another inode), loaded through LD_LIBRARY_PATH.
    const lib = join(tls.dir, 'lib');
    mkdirSync(lib);
    copyFileSync(realpathSync(LIBSSL), join(lib, 'libssl.so.3'));
    const copy = join(lib, 'libssl.so.3');
    const python = podSpawn(pods.a, 'env', [
      `LD_LIBRARY_PATH=${lib}`,
      PYTHON,
      `${FIXTURES}https-client.py`,
      url(PY_PORT, '/'),
      '1',
      tls.ca,
      '--wait',
    ]);
    let output = '';
    python.stdout!.on('data', (d: Buffer) => {
      output += d.toString();
    });
    await waitFor('python loaded libssl', () => output.includes('loaded\n'));
    const attached = await capture!.waitFor('the uprobes on the copy', (rs) =>
      rs.find(
        (r): r is TlsLibraryRecord => r.kind === 'tls_library' && r.state === 'attached' && r.path === copy,
      ),
    );
    assert.equal(attached.tgid > 0, true, 'found in the process that mapped it');
    const exited = new Promise((resolve) => python.once('exit', resolve));
    python.stdin!.end('go\n');
    await exited;
    assert.deepEqual(JSON.parse(output.slice(output.indexOf('{'))).statuses, [200]);
    const request = await capture!.waitFor('the request, read through the copy', (rs) =>
      dataOf(rs).find(
        (r) => r.netnsInode === pods.a.inode && r.tgid === attached.tgid && r.flags.messageStart,
      ),
    );
    assert.equal(request.syscall, 'ssl_write');
    // No process maps the copy any more: its uprobes go (the loader looks every few seconds).
    await capture!.waitFor(
      'the copy detached',
      (rs) => rs.some((r) => r.kind === 'tls_library' && r.state === 'detached' && r.ino === attached.ino),
      30_000,
    );
  });

  for (const what of ['binaries', 'pods'] as const) {
    it(`reads only the TLS of the ${what} it is limited to`, async () => {
      const inodes = new Set([pods.a.inode, pods.b.inode]);
      const limit = what === 'binaries' ? { tlsBinaries: ['nginx'] } : { tlsPods: [pods.b.ns] };
      const limited = await Capture.start(
        { tls: true, ...limit },
        (r) => r.kind === 'stats' || (isConn(r) && inodes.has(r.netnsInode)),
      );
      try {
        const out = await podExec(pods.a, 'curl', [
          '-sS',
          '--cacert',
          tls.ca,
          '-o',
          '/dev/null',
          '-w',
          '%{local_port}',
          url(PORT, '/hello'),
        ]);
        const port = Number(out);
        const server = await limited.waitFor('the exchange read by nginx', (rs) => {
          const mine = dataOf(side(rs, pods.b.inode, port));
          return mine.some((r) => r.direction === 'egress' && r.flags.response) && mine;
        });
        assertPlaintextOnly(server);
        // The unlimited capture read curl's side; the limited one did not, by the time its loader had
        // drained the ring past that moment (a STATS record follows the drain).
        const read = await capture!.waitFor("curl's side in the unlimited capture", (rs) =>
          dataOf(side(rs, pods.a.inode, port)).find((r) => r.flags.response),
        );
        await limited.waitFor('a STATS record after it', (rs) =>
          rs.some((r) => r.kind === 'stats' && r.monotonicNs > read.timestampNs),
        );
        assert.deepEqual(side(limited.records, pods.a.inode, port), []);
      } finally {
        await limited.stop();
      }
    });
  }
});
