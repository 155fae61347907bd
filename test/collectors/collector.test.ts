/**
 * The collector end to end: real HTTP between two pods (network namespaces joined by a veth pair),
 * captured by the real eBPF programs, turned into raw events by an in-process Collector, produced to a
 * real Kafka, and read back from the raw topic. Every assertion is on what arrived in Kafka. Needs root.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import type { Collector } from '../../collectors/collector.ts';
import type { L7RawEvent } from '../../schemas/types.ts';
import { type TestKafka, testKafka } from '../../testkit/kafka.ts';
import {
  createPodPair,
  type Pod,
  type PodPair,
  podExec,
  podSpawn,
  requireRoot,
  runClient,
  stopProcess,
} from '../bpf/helpers/pods.ts';
import {
  collectorConfig,
  FIXTURES,
  RawTopicReader,
  sideOf,
  startCollector,
  startHttpServer,
  startNginx,
  testPort,
} from './helpers/harness.ts';

requireRoot();

const PORT = testPort();
const PORT6 = PORT + 1;
const NGINX_PORT = PORT + 2;
const ECHO_PORT = PORT + 3;
const CLOSED_PORT = PORT + 4;
const BPF_FIXTURES = new URL('../bpf/fixtures/', import.meta.url).pathname;
const HTTP_SERVER = new URL('../../testkit/http-server.ts', import.meta.url).pathname;
/** Body bytes of the fixtures are 'a'..'z' repeated: this run of them must never be in a record. */
const BODY_MARKER = Buffer.from('abcdefghijklmnopqrstuvwxyzabcdefghij');

const dataOf = (events: L7RawEvent[], direction: 'EGRESS' | 'INGRESS') =>
  events.filter((e) => e.kind === 'DATA' && e.direction === direction);
const heads = (events: L7RawEvent[]) =>
  events.flatMap((e) => e.segments.filter((s) => s.kind === 'HEAD' && s.data !== null && s.data.length > 0));
const headText = (events: L7RawEvent[]) => heads(events).map((s) => s.data!.toString('latin1'));
const bodyLength = (events: L7RawEvent[]) =>
  events
    .flatMap((e) => e.segments.filter((s) => s.kind === 'BODY'))
    .reduce((n, s) => n + Number(s.length), 0);

async function curl(pod: Pod, url: string, extra: string[] = []): Promise<{ status: number; port: number }> {
  const out = await podExec(pod, 'curl', [
    '-sS',
    '-g',
    '-o',
    '/dev/null',
    '-w',
    '%{http_code} %{local_port}',
    ...extra,
    url,
  ]);
  const [status, port] = out.trim().split(' ').map(Number) as [number, number];
  return { status, port };
}

/** The raw-client fixture: exact writes on one connection. */
async function rawClient(
  pod: Pod,
  host: string,
  port: number,
  plan: { writes: string[]; gapMs?: number; responses?: number },
): Promise<{ localPort: number; statusLines: string[] }> {
  const out = await podExec(pod, process.execPath, [
    `${FIXTURES}raw-client.ts`,
    host,
    String(port),
    JSON.stringify(plan),
  ]);
  return JSON.parse(out.trim().split('\n').at(-1)!);
}

describe('collector: HTTP between two pods, into Kafka', () => {
  let pods: PodPair;
  let k: TestKafka;
  let servers: ChildProcess[] = [];
  let nginx: { stop(): Promise<void> } | undefined;
  let collector: Collector | undefined;
  let reader: RawTopicReader | undefined;
  /** A keep-alive client whose connection is open before the collector starts. */
  let early: { child: ChildProcess; firstPort: number } | undefined;

  before(async () => {
    pods = createPodPair('coll');
    k = await testKafka('collector');
    await k.createTopics();
    servers = [
      await startHttpServer(pods.b, [`0.0.0.0:${PORT}`, `::1:${PORT6}`]),
      podSpawn(pods.b, process.execPath, [HTTP_SERVER, `echo:0.0.0.0:${ECHO_PORT}`]),
    ];
    nginx = await startNginx(pods.b, NGINX_PORT);

    // Opened (and used once) before capture starts: the collector must pick it up mid-connection.
    const child = podSpawn(pods.a, process.execPath, [
      `${BPF_FIXTURES}tcp-client.ts`,
      'wait-then',
      pods.b.addr,
      String(PORT),
      '1',
    ]);
    const firstPort = await new Promise<number>((resolve, reject) => {
      let out = '';
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /first (\d+)/.exec(out);
        if (m !== null) resolve(Number(m[1]));
      });
      child.once('exit', (code) => reject(new Error(`wait-then client exited (${code}): ${out}`)));
    });
    early = { child, firstPort };

    const config = collectorConfig({
      brokers: k.brokers,
      prefix: k.prefix,
      collector: { ports: [PORT, PORT6, NGINX_PORT, ECHO_PORT, CLOSED_PORT] },
    });
    collector = (await startCollector(config)).collector;
    reader = await RawTopicReader.start(k.kafka, k.topic('raw'));
  });

  after(async () => {
    await stopProcess(early?.child);
    await collector?.stop();
    await reader?.stop();
    for (const s of servers) await stopProcess(s);
    await nginx?.stop();
    await k?.cleanup();
    pods?.remove();
  });

  it('ships request and response of both ends: addresses, roles, pods, one key and partition, ordered times', async () => {
    const { status, port } = await curl(pods.a, `http://${pods.b.addr}:${PORT}/hello`);
    assert.equal(status, 200);
    const done = (rs: RawTopicReader) => {
      const all = rs.events();
      const client = sideOf(all, pods.a, port);
      const server = sideOf(all, pods.b, port);
      return (
        client.some((e) => e.kind === 'CLOSE') && server.some((e) => e.kind === 'CLOSE') && { client, server }
      );
    };
    const { client, server } = await reader!.waitFor('both ends of the curl, closed', done);

    for (const [events, role, pod, peer] of [
      [client, 'CLIENT', pods.a, pods.b],
      [server, 'SERVER', pods.b, pods.a],
    ] as const) {
      assert.deepEqual(
        events.map((e) => e.kind),
        ['OPEN', 'DATA', 'DATA', 'CLOSE'],
        `${role}: ${events.map((e) => `${e.kind}/${e.direction}`)}`,
      );
      for (const e of events) {
        assert.equal(e.node, collector!.nodeName);
        assert.equal(e.connection.role, role);
        assert.equal(e.connection.roleInferred, false);
        assert.equal(e.connection.family, 'IPV4');
        assert.equal(e.connection.localAddress, pod.addr);
        assert.equal(e.connection.peerAddress, peer.addr);
        assert.equal(e.workload.pod, pod.ns);
        assert.equal(e.workload.service, pod.ns, 'no workload rule: the service is the pod');
        assert.equal(e.workload.netnsInode, BigInt(pod.inode));
        assert.equal(e.connection.id, events[0]!.connection.id);
        assert.equal(e.protocol, 'HTTP1');
      }
      assert.equal(events[0]!.syscall, role === 'CLIENT' ? 'CONNECT' : 'ACCEPT4');
      assert.ok(events[0]!.connection.openedUnixNano !== null);
      for (let i = 1; i < events.length; i++) {
        assert.ok(events[i - 1]!.monotonicNs <= events[i]!.monotonicNs, 'capture order');
        assert.ok(events[i - 1]!.timeUnixNano <= events[i]!.timeUnixNano, 'wall-clock order');
      }
      for (const e of events.filter((x) => x.kind === 'DATA')) {
        assert.equal(
          e.segments.reduce((n, s) => n + s.length, 0n),
          e.byteCount,
          'segments cover the bytes exactly',
        );
      }
    }
    assert.equal(client[0]!.connection.localPort, port);
    assert.equal(client[0]!.connection.peerPort, PORT);
    assert.equal(server[0]!.connection.localPort, PORT);
    assert.equal(server[0]!.connection.peerPort, port);
    // The server's process is alive: /proc told us who it is.
    assert.equal(server[0]!.process.exe, process.execPath);
    assert.ok(server[0]!.process.comm.length > 0);

    const [, clientReq, clientResp] = client;
    const [, serverReq, serverResp] = server;
    assert.equal(clientReq!.direction, 'EGRESS');
    assert.match(headText([clientReq!])[0]!, /^GET \/hello HTTP\/1\.1\r\n/);
    assert.equal(headText([serverReq!])[0], headText([clientReq!])[0], 'both ends saw the same request head');
    assert.match(headText([clientResp!])[0]!, /^HTTP\/1\.1 200 OK\r\n/);
    assert.equal(bodyLength([clientResp!]), 'hello world\n'.length);
    // Causality across the two ends (exit timestamps of syscalls on one node's clock).
    assert.ok(serverReq!.monotonicNs <= serverResp!.monotonicNs);
    assert.ok(serverReq!.monotonicNs <= clientResp!.monotonicNs);
    assert.ok(clientReq!.monotonicNs <= clientResp!.monotonicNs);
    // Wall clock: monotonic plus the boot offset, exactly, and about now.
    const offset = clientReq!.timeUnixNano - clientReq!.monotonicNs;
    assert.ok(offset > 0n);
    const ageMs = Date.now() - Number(clientReq!.timeUnixNano / 1_000_000n);
    assert.ok(ageMs >= 0 && ageMs < 60_000, `event time is ${ageMs} ms old`);

    // Both ends of the connection: one key, one partition, sequence numbers increasing.
    const records = reader!.records.filter((r) => client.includes(r.event) || server.includes(r.event));
    assert.equal(new Set(records.map((r) => r.key)).size, 1);
    assert.equal(records[0]!.key, `${pods.a.addr}:${port}|${pods.b.addr}:${PORT}`);
    assert.equal(new Set(records.map((r) => r.partition)).size, 1);
    const seqs = records.map((r) => r.event.seq);
    assert.equal(new Set(seqs).size, seqs.length, 'sequence numbers are unique');
  });

  it('follows many requests on one keep-alive connection (Node client and server)', async () => {
    const N = 25;
    const summary = await runClient<{ statuses: number[]; localPorts: number[] }>(
      pods.a,
      'keepalive',
      pods.b.addr,
      PORT,
      N,
    );
    assert.equal(summary.localPorts.length, 1);
    const port = summary.localPorts[0]!;
    const { client, server } = await reader!.waitFor(`${N} exchanges on both ends`, (rs) => {
      const all = rs.events();
      const c = sideOf(all, pods.a, port);
      const s = sideOf(all, pods.b, port);
      return (
        headText(dataOf(c, 'INGRESS')).length === N &&
        headText(dataOf(s, 'EGRESS')).length === N && { client: c, server: s }
      );
    });
    assert.equal(new Set(client.map((e) => e.connection.id)).size, 1);
    assert.equal(headText(dataOf(client, 'EGRESS')).length, N);
    assert.equal(headText(dataOf(server, 'INGRESS')).length, N);
    assert.ok(headText(dataOf(server, 'EGRESS')).every((h) => h.startsWith('HTTP/1.1 200 OK\r\n')));
  });

  it('follows keep-alive between curl and nginx', async () => {
    const urls = [1, 2, 3].map(() => `http://${pods.b.addr}:${NGINX_PORT}/`);
    const out = await podExec(pods.a, 'curl', [
      '-sS',
      '-o',
      '/dev/null',
      '-o',
      '/dev/null',
      '-o',
      '/dev/null',
      '-w',
      '%{local_port}\n',
      ...urls,
    ]);
    const ports = new Set(out.trim().split('\n').map(Number));
    assert.equal(ports.size, 1, 'curl reused its connection');
    const port = [...ports][0]!;
    const server = await reader!.waitFor('three exchanges at nginx', (rs) => {
      const s = sideOf(rs.events(), pods.b, port);
      return headText(dataOf(s, 'EGRESS')).length === 3 && s;
    });
    assert.ok(server.every((e) => e.connection.role === 'SERVER'));
    assert.equal(server[0]!.process.comm, 'nginx');
    assert.deepEqual(
      headText(dataOf(server, 'INGRESS')).map((h) => h.split('\r\n')[0]),
      ['GET / HTTP/1.1', 'GET / HTTP/1.1', 'GET / HTTP/1.1'],
    );
  });

  it('frames pipelined requests written in one syscall', async () => {
    const { localPort, statusLines } = await rawClient(pods.a, pods.b.addr, PORT, {
      writes: ['GET /hello HTTP/1.1\r\nHost: fixture\r\n\r\nGET /nope HTTP/1.1\r\nHost: fixture\r\n\r\n'],
      responses: 2,
    });
    assert.deepEqual(statusLines, ['HTTP/1.1 200 OK', 'HTTP/1.1 404 Not Found']);
    const client = await reader!.waitFor('two responses read by the client', (rs) => {
      const c = sideOf(rs.events(), pods.a, localPort);
      return headText(dataOf(c, 'INGRESS')).length === 2 && c;
    });
    const [write] = dataOf(client, 'EGRESS');
    assert.deepEqual(
      write!.segments.map((s) => [s.kind, s.endsMessage]),
      [
        ['HEAD', true],
        ['HEAD', true],
      ],
    );
    assert.deepEqual(headText([write!]), [
      'GET /hello HTTP/1.1\r\nHost: fixture\r\n\r\n',
      'GET /nope HTTP/1.1\r\nHost: fixture\r\n\r\n',
    ]);
  });

  it('ships a head written in several syscalls once, whole, on the write that completes it', async () => {
    const pieces = [
      'GET /hello HTTP/1.1\r\n',
      'Host: fixture\r\nX-Spl',
      'it: one\r\n',
      'X-Split: two\r\n',
      '\r\n',
    ];
    const { localPort } = await rawClient(pods.a, pods.b.addr, PORT, { writes: pieces, gapMs: 30 });
    const client = await reader!.waitFor('the split request and its answer', (rs) => {
      const c = sideOf(rs.events(), pods.a, localPort);
      return headText(dataOf(c, 'INGRESS')).length === 1 && c;
    });
    const writes = dataOf(client, 'EGRESS');
    assert.equal(writes.length, pieces.length, 'one event per write()');
    assert.deepEqual(
      writes.map((e) => e.segments.map((s) => [s.kind, Number(s.length), s.data?.length ?? null])),
      pieces.map((p, i) => [['HEAD', p.length, i < pieces.length - 1 ? 0 : pieces.join('').length]]),
    );
    assert.equal(headText(writes)[0], pieces.join(''));
  });

  it('ships bodies as lengths only: a large Content-Length body and a chunked one', async () => {
    const SIZE = 300_000;
    const big = await curl(pods.a, `http://${pods.b.addr}:${PORT}/big?size=${SIZE}`);
    const chunked = await curl(pods.a, `http://${pods.b.addr}:${PORT}/chunked?chunks=5&size=3000`);
    // Chunked coding on the wire: "bb8\r\n" + 3000 bytes + "\r\n" per chunk, then "0\r\n\r\n".
    const CHUNKED_WIRE = 5 * (3 + 2 + 3000 + 2) + 5;
    for (const [port, expected] of [
      [big.port, SIZE],
      [chunked.port, CHUNKED_WIRE],
    ] as const) {
      for (const [pod, direction] of [
        [pods.a, 'INGRESS'],
        [pods.b, 'EGRESS'],
      ] as const) {
        const events = await reader!.waitFor(`${expected} body bytes (${pod.ns})`, (rs) => {
          const side = sideOf(rs.events(), pod, port);
          const data = dataOf(side, direction);
          return side.some((e) => e.kind === 'CLOSE') && bodyLength(data) === expected && data;
        });
        const bodySegments = events.flatMap((e) => e.segments.filter((s) => s.kind === 'BODY'));
        assert.ok(
          bodySegments.every((s) => s.data === null),
          'no body bytes shipped',
        );
        assert.equal(bodySegments.filter((s) => s.endsMessage).length, 1);
        assert.equal(bodySegments.at(-1)!.endsMessage, true);
      }
    }
    const mine = reader!.records.filter(
      (r) =>
        [big.port, chunked.port].includes(r.event.connection.peerPort) ||
        [big.port, chunked.port].includes(r.event.connection.localPort),
    );
    assert.ok(mine.length > 0);
    for (const r of mine) assert.equal(r.bytes.indexOf(BODY_MARKER), -1, 'body bytes in a record');
  });

  it('captures IPv6 on loopback, keyed with the namespace so both ends share the key', async () => {
    const { status, port } = await curl(pods.b, `http://[::1]:${PORT6}/hello`);
    assert.equal(status, 200);
    const events = await reader!.waitFor('both loopback ends', (rs) => {
      const mine = rs.events(
        (e) =>
          e.workload.netnsInode === BigInt(pods.b.inode) &&
          (e.connection.localPort === port || e.connection.peerPort === port),
      );
      return mine.filter((e) => e.kind === 'CLOSE').length === 2 && mine;
    });
    assert.ok(events.every((e) => e.connection.family === 'IPV6' && e.connection.localAddress === '::1'));
    const keys = new Set(events.map((e) => e.connection.key));
    const ends = [`[::1]:${port}`, `[::1]:${PORT6}`].sort();
    assert.deepEqual([...keys], [`${pods.b.inode}/${ends[0]}|${ends[1]}`]);
    assert.deepEqual(new Set(events.map((e) => e.connection.role)), new Set(['CLIENT', 'SERVER']));
    const partitions = reader!.records.filter((r) => events.includes(r.event)).map((r) => r.partition);
    assert.equal(new Set(partitions).size, 1);
  });

  it('tells connections apart when a process reuses its fd', async () => {
    // curl, told to close each connection, opens the next one on the fd number just freed.
    const url = `http://${pods.b.addr}:${PORT}/hello`;
    const transfers = [url, url, url].flatMap((u) => ['-o', '/dev/null', u]);
    const out = await podExec(pods.a, 'curl', [
      '-sS',
      '-H',
      'Connection: close',
      '-w',
      '%{local_port}\n',
      ...transfers,
    ]);
    const localPorts = out.trim().split('\n').map(Number);
    assert.equal(new Set(localPorts).size, 3, 'three connections');
    const conns = await reader!.waitFor('three closed connections', (rs) => {
      const all = rs.events();
      const sides = localPorts.map((p) => sideOf(all, pods.a, p));
      return sides.every((s) => s.some((e) => e.kind === 'CLOSE')) && sides;
    });
    const fds = conns.map((s) => s[0]!.connection.fd);
    assert.equal(new Set(fds).size, 1, `curl reused its fd: ${fds}`);
    const ids = conns.map((s) => s[0]!.connection.id);
    assert.equal(new Set(ids).size, 3);
    const generations = conns.map((s) => s[0]!.connection.generation);
    assert.ok(
      generations[0]! < generations[1]! && generations[1]! < generations[2]!,
      `generations ${generations}`,
    );
    for (const s of conns) {
      assert.equal(s[0]!.kind, 'OPEN');
      assert.equal(s.at(-1)!.kind, 'CLOSE');
      assert.equal(new Set(s.map((e) => e.connection.id)).size, 1);
    }
  });

  it('picks up a connection opened before the collector started', async () => {
    early!.child.stdin!.write('go\n');
    const port = early!.firstPort;
    const { client, server } = await reader!.waitFor('the second request on the old connection', (rs) => {
      const all = rs.events();
      const c = sideOf(all, pods.a, port);
      const s = sideOf(all, pods.b, port);
      return (
        headText(dataOf(c, 'INGRESS')).length === 1 &&
        headText(dataOf(s, 'EGRESS')).length === 1 && { client: c, server: s }
      );
    });
    for (const [events, role] of [
      [client, 'CLIENT'],
      [server, 'SERVER'],
    ] as const) {
      assert.equal(events[0]!.kind, 'OPEN');
      assert.equal(events[0]!.connection.openedUnixNano, null, 'connect/accept were not seen');
      const data = events.filter((e) => e.kind === 'DATA');
      assert.ok(
        data.every((e) => e.connection.role === role && e.connection.roleInferred),
        `${role} inferred`,
      );
    }
    assert.equal(client[0]!.connection.key, server[0]!.connection.key);
  });

  it('reports a refused connect', async () => {
    const out = await podExec(pods.a, 'sh', [
      '-c',
      `curl -sS http://${pods.b.addr}:${CLOSED_PORT}/ 2>&1; true`,
    ]);
    assert.match(out, /refused|Failed to connect/i);
    const failed = await reader!.waitFor(
      'CONNECT_FAILED',
      (rs) => rs.events((e) => e.kind === 'CONNECT_FAILED' && e.connection.peerPort === CLOSED_PORT)[0],
    );
    assert.equal(failed.errno, 111);
    assert.equal(failed.connection.role, 'CLIENT');
    assert.equal(failed.workload.pod, pods.a.ns);
  });

  it('ships nothing for garbage on TCP, and keeps capturing', async () => {
    const { localPort, received } = await runClient<{ localPort: number; received: number }>(
      pods.a,
      'garbage',
      pods.b.addr,
      ECHO_PORT,
      50_000,
    );
    assert.equal(received, 50_000);
    const after = await curl(pods.a, `http://${pods.b.addr}:${PORT}/hello`);
    await reader!.waitFor('the request after the garbage', (rs) =>
      sideOf(rs.events(), pods.b, after.port).some((e) => e.kind === 'CLOSE'),
    );
    assert.deepEqual(sideOf(reader!.events(), pods.a, localPort), [], 'no event for the binary connection');
    assert.equal(
      reader!.events((e) => e.connection.localPort === ECHO_PORT || e.connection.peerPort === ECHO_PORT)
        .length,
      0,
    );
  });

  it('accounts for every event: captured = produced + dropped, all produced events in Kafka', async () => {
    const c = collector!;
    const totals = await reader!.waitFor('the buffer drained and the topic caught up', (rs) => {
      const t = c.totals();
      return t.buffered === 0 && rs.records.length === t.produced && t;
    });
    assert.equal(totals.dropped, 0);
    assert.equal(totals.captured, totals.produced);
    const seqs = reader!.records.map((r) => r.event.seq).sort((a, b) => (a < b ? -1 : 1));
    assert.deepEqual(
      seqs,
      seqs.map((_, i) => BigInt(i)),
      'no gap, no duplicate',
    );
    assert.equal(c.counters.unseenBytes, 0, 'every byte the kernel counted was in a record');
  });
});
