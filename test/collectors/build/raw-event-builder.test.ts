/**
 * The raw-event builder's handling of loss, as pure logic: records built as the decoder hands them over
 * (the real-kernel tests cannot make the ring buffer drop a chosen record). A head written in three
 * syscalls whose middle record is lost must never be spliced together from the other two — that is how a
 * fragment of an Authorization value would end up in an unredacted field.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CgroupDirectory } from '../../../collectors/build/identity/cgroup-directory.ts';
import { IdentityResolver } from '../../../collectors/build/identity/identity-resolver.ts';
import { NetnsNames } from '../../../collectors/build/identity/netns-names.ts';
import { ProcessTable } from '../../../collectors/build/identity/process-table.ts';
import { WorkloadRules } from '../../../collectors/build/identity/workload-rules.ts';
import { RawEventBuilder } from '../../../collectors/build/raw-event-builder.ts';
import type {
  DataRecord,
  LoaderRecord,
  OpenRecord,
  ReadyRecord,
  RecordFlags,
  StatsRecord,
} from '../../../collectors/capture/loader/record-decoder.ts';
import { type CaptureCounters, newCaptureCounters } from '../../../collectors/capture-counters.ts';
import { DEFAULT_REDACTION_POLICY } from '../../../protocols/http1/redact.ts';
import type { L7RawEvent } from '../../../schemas/types.ts';

const FLAGS: RecordFlags = {
  messageStart: false,
  response: false,
  truncated: false,
  chunkTerminator: false,
  readFailed: false,
  iovLimit: false,
  roleInferred: false,
  preexisting: false,
  v4Mapped: false,
  async: false,
  tls: false,
};

const BASE = {
  tgid: process.pid,
  tid: process.pid,
  fd: 7,
  connId: 1,
  generation: 1,
  direction: 'egress',
  role: 'client',
  roleInferred: false,
  family: 4,
  localAddr: '10.0.0.1',
  localPort: 40000,
  peerAddr: '10.0.0.2',
  peerPort: 80,
  cgroupId: 1n,
  netnsInode: 1,
  syscall: 'write',
  flags: FLAGS,
  flagBits: 0,
} as const;

const READY: ReadyRecord = {
  kind: 'ready',
  abiVersion: 1,
  loaderTgid: 1,
  captureCap: 4096,
  ringBytes: 1 << 23,
  pollMs: 10,
  features: { asyncConnect: true, tls: false },
  monotonicNs: 1_000_000_000n,
  realtimeNs: 1_796_000_000_000_000_000n,
};

const OPEN: OpenRecord = { ...BASE, kind: 'open', timestampNs: 1_000_000_100n, syscall: 'connect' };

function data(ts: bigint, text: string, messageStart = false): DataRecord {
  const bytes = Buffer.from(text, 'latin1');
  return {
    ...BASE,
    kind: 'data',
    timestampNs: ts,
    byteCount: bytes.length,
    captured: bytes,
    durationNs: 1000,
    flags: { ...FLAGS, messageStart },
  };
}

let statsAt = 1_000_000_000n;
function stats(ringbufDrops: number, truncations: Partial<StatsRecord['kernelDrops']> = {}): StatsRecord {
  statsAt += 1_000_000n;
  const kernelDrops = {
    RINGBUF_FULL: ringbufDrops,
    CONN_MAP_FULL: 0,
    ARGS_MAP_FULL: 0,
    PENDING_MAP_FULL: 0,
    READ_USER: 0,
    READ_KERNEL: 0,
    IOV_LIMIT: 0,
    CONN_MISMATCH: 0,
    SCRATCH: 0,
    TLS_UNBOUND: 0,
    TLS_NOTICE: 0,
    READ_PAYLOAD: 0,
    ...truncations,
  };
  return {
    kind: 'stats',
    monotonicNs: statsAt,
    realtimeNs: statsAt + 1_795_999_999_000_000_000n,
    ringRecords: 10,
    ringBytes: 1000,
    forwardedRecords: 10,
    forwardedBytes: 1000,
    loaderDroppedRecords: 0,
    loaderDroppedBytes: 0,
    kernelDrops,
  };
}

// A head in three writes; the secret's tail is in the third, its name in the second.
const PART1 = 'GET / HTTP/1.1\r\nX-Note: hello';
const PART2_LOST = ' world\r\nAuthorization: Bearer ab';
const PART3 = 'cdSECRET\r\n\r\n';

function build(records: LoaderRecord[]): { events: L7RawEvent[]; counters: CaptureCounters } {
  const counters = newCaptureCounters();
  const events: L7RawEvent[] = [];
  const builder = new RawEventBuilder({
    node: 'test',
    identity: new IdentityResolver({
      processes: new ProcessTable(),
      netns: new NetnsNames({ dir: '/nonexistent', hostInode: null }),
      cgroups: new CgroupDirectory({ root: null }),
      rules: new WorkloadRules([]),
      namespace: null,
      self: { pids: new Set(), parentOfOurs: null },
    }),
    redaction: DEFAULT_REDACTION_POLICY,
    shipBodies: false,
    maxConnections: 16,
    counters,
    emit: (event) => events.push(event),
  });
  builder.push(records);
  builder.endRun();
  return { events, counters };
}

const shipped = (events: L7RawEvent[]) =>
  events.flatMap((e) => e.segments.map((s) => s.data?.toString('latin1') ?? '')).join('');

describe('RawEventBuilder and the loss gate', () => {
  it('joins a head written in three records when none is lost, and redacts it whole (the control)', () => {
    const { events, counters } = build([
      READY,
      OPEN,
      data(1_000_000_200n, PART1, true),
      data(1_000_000_300n, PART2_LOST),
      data(1_000_000_400n, PART3),
      stats(0),
    ]);
    assert.equal(counters.lossHints, 0);
    assert.equal(
      shipped(events),
      'GET / HTTP/1.1\r\nX-Note: hello world\r\nAuthorization: [REDACTED]\r\n\r\n',
    );
  });

  it('never splices across a loss reported by the STATS that closes the window', () => {
    const { events, counters } = build([
      READY,
      OPEN,
      data(1_000_000_200n, PART1, true),
      // PART2 was lost in the ring buffer: RINGBUF_FULL goes up in the next STATS.
      data(1_000_000_400n, PART3),
      stats(1),
    ]);
    assert.ok(counters.lossHints > 0);
    assert.equal(counters.dropped.get('kernel/ringbuf_full'), 1);
    const text = shipped(events);
    assert.doesNotMatch(text, /SECRET/);
    assert.doesNotMatch(text, /hellocd/);
  });

  it('never splices across a loss counted by an earlier STATS (records still in the ring then)', () => {
    const { events } = build([
      READY,
      OPEN,
      data(1_000_000_200n, PART1, true),
      stats(1),
      data(1_000_000_400n, PART3),
      stats(1),
    ]);
    const text = shipped(events);
    assert.doesNotMatch(text, /SECRET/);
    assert.doesNotMatch(text, /hellocd/);
  });

  it('counts the kernel truncation reasons apart from its losses, and gives no loss hint for them', () => {
    const { events, counters } = build([
      READY,
      OPEN,
      data(1_000_000_200n, PART1, true),
      stats(0, { IOV_LIMIT: 2, READ_PAYLOAD: 1 }),
      data(1_000_000_300n, PART2_LOST),
      data(1_000_000_400n, PART3),
      stats(1, { IOV_LIMIT: 5, READ_PAYLOAD: 1 }),
    ]);
    assert.deepEqual(Object.fromEntries(counters.truncated), {
      'kernel/iov_limit': 5,
      'kernel/read_payload': 1,
    });
    assert.deepEqual(Object.fromEntries(counters.dropped), { 'kernel/ringbuf_full': 1 });
    // The first window's truncations are no loss: its head goes on into the second window whole.
    assert.match(shipped(events), /^GET \/ HTTP\/1\.1\r\nX-Note: hello/);
    assert.equal(counters.lossHints, 2, 'the two records of the lossy window only');
  });

  it('turns timestamps into exact Unix nanoseconds and numbers connections per loader run', () => {
    const { events } = build([READY, OPEN, data(1_000_000_200n, 'GET / HTTP/1.1\r\n\r\n', true), stats(0)]);
    assert.equal(events[0]!.kind, 'OPEN');
    assert.equal(events[0]!.timeUnixNano, 1_796_000_000_000_000_100n);
    assert.equal(events[0]!.connection.openedUnixNano, 1_796_000_000_000_000_100n);
    assert.equal(events[1]!.timeUnixNano, 1_796_000_000_000_000_200n);
    assert.equal(events[1]!.monotonicNs, 1_000_000_200n);
    assert.equal(events[1]!.connection.id, 1n);
    assert.equal(events[1]!.connection.key, '10.0.0.1:40000|10.0.0.2:80');
  });

  it('keys a NATed connection by where it really went (the NAT record before its OPEN)', () => {
    const nat: LoaderRecord = { kind: 'nat', connId: OPEN.connId, addr: '10.0.0.9', port: 8080 };
    const { events } = build([
      READY,
      nat,
      OPEN,
      data(1_000_000_200n, 'GET / HTTP/1.1\r\n\r\n', true),
      stats(0),
    ]);
    for (const e of events) {
      assert.equal(e.connection.key, '10.0.0.1:40000|10.0.0.9:8080', 'the server side sees this tuple');
      assert.equal(e.connection.peerAddress, '10.0.0.2', 'what the socket saw stays');
      assert.equal(e.connection.translatedPeerAddress, '10.0.0.9');
      assert.equal(e.connection.translatedPeerPort, 8080);
    }
  });
});
