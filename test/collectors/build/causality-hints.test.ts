/**
 * The causality hint of a call: the number of server exchanges of the same process open both when the
 * call started and when it ended. As pure logic (CausalityHints), and through the raw-event builder on
 * the records a server process produces when it serves requests and calls out while serving them.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CausalityHints } from '../../../collectors/build/causality-hints.ts';
import { CgroupDirectory } from '../../../collectors/build/identity/cgroup-directory.ts';
import { IdentityResolver } from '../../../collectors/build/identity/identity-resolver.ts';
import { NetnsNames } from '../../../collectors/build/identity/netns-names.ts';
import { ProcessTable } from '../../../collectors/build/identity/process-table.ts';
import { WorkloadRules } from '../../../collectors/build/identity/workload-rules.ts';
import { RawEventBuilder } from '../../../collectors/build/raw-event-builder.ts';
import type {
  DataRecord,
  LoaderRecord,
  RecordFlags,
} from '../../../collectors/capture/loader/record-decoder.ts';
import { newCaptureCounters } from '../../../collectors/capture-counters.ts';
import { DEFAULT_REDACTION_POLICY } from '../../../protocols/http1/redact.ts';
import type { L7RawEvent } from '../../../schemas/types.ts';

describe('causality hints', () => {
  it('counts the server exchanges open across a call, nested and concurrent', () => {
    const h = new CausalityHints();
    h.serverRequests(1, 10, 1); // request A arrives
    h.clientRequests(1, 20, 1); // call 1 starts while A is open
    h.serverRequests(1, 11, 1); // request B arrives
    h.clientRequests(1, 21, 1); // call 2 starts while A and B are open
    h.serverResponsesEnded(1, 11, 1); // B answered before call 2 ends: not a cause of call 2
    assert.deepEqual(h.clientResponsesEnded(1, 21, 1), [1]);
    assert.deepEqual(h.clientResponsesEnded(1, 20, 1), [1]);
    h.serverResponsesEnded(1, 10, 1);
    h.clientRequests(1, 20, 1); // a call outside any request: a root
    assert.deepEqual(h.clientResponsesEnded(1, 20, 1), [0]);
  });

  it('keeps pipelined calls in order, and processes apart', () => {
    const h = new CausalityHints();
    h.serverRequests(1, 10, 2);
    h.serverRequests(2, 30, 1);
    h.clientRequests(1, 20, 2);
    h.serverResponsesEnded(1, 10, 1);
    assert.deepEqual(h.clientResponsesEnded(1, 20, 2), [1, 1]);
  });

  it('gives no hint where it cannot be trusted: a loss, an unseen request, unfollowed traffic', () => {
    const h = new CausalityHints();
    h.serverRequests(1, 10, 1);
    h.clientRequests(1, 20, 1);
    h.lost(1);
    assert.deepEqual(h.clientResponsesEnded(1, 20, 1), [null]);
    h.clientRequests(1, 20, 1);
    h.serverResponsesEnded(1, 12, 1); // a response whose request this capture never saw
    assert.deepEqual(h.clientResponsesEnded(1, 20, 1), [null]);
    h.clientRequests(1, 20, 1);
    h.untracked(1);
    assert.deepEqual(h.clientResponsesEnded(1, 20, 1), [null]);
    assert.deepEqual(h.clientResponsesEnded(1, 20, 1), [null], 'a response without a call');
  });

  it('forgets a process with its last connection', () => {
    const h = new CausalityHints();
    h.serverRequests(1, 10, 1);
    h.clientRequests(1, 20, 1);
    h.closed(1, 10);
    assert.deepEqual(h.clientResponsesEnded(1, 20, 1), [0], 'an exchange ended by a close is no cause');
    h.closed(1, 20);
    assert.equal(h.processes, 0);
  });
});

const FLAGS: RecordFlags = {
  messageStart: true,
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

let ts = 1_000_000_000n;
/** A record of process 77: `conn` 1 is the connection it serves on, 2 and 3 the ones it calls out on. */
function data(conn: number, direction: 'ingress' | 'egress', text: string): DataRecord {
  const bytes = Buffer.from(text, 'latin1');
  ts += 1000n;
  return {
    kind: 'data',
    tgid: 77,
    tid: 77,
    fd: conn + 10,
    connId: conn,
    generation: 1,
    timestampNs: ts,
    direction,
    role: conn === 1 ? 'server' : 'client',
    roleInferred: false,
    family: 4,
    localAddr: '10.0.0.1',
    localPort: conn === 1 ? 8080 : 40_000 + conn,
    peerAddr: conn === 1 ? '10.0.0.9' : '10.0.0.2',
    peerPort: conn === 1 ? 50_000 : 80,
    cgroupId: 1n,
    netnsInode: 1,
    syscall: direction === 'ingress' ? 'read' : 'write',
    flags: { ...FLAGS, response: text.startsWith('HTTP/') },
    flagBits: 0,
    byteCount: bytes.length,
    captured: bytes,
    durationNs: 100,
  };
}

const REQUEST = 'GET /x HTTP/1.1\r\nHost: a\r\n\r\n';
const RESPONSE = 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok';

describe('causality hints through the raw-event builder', () => {
  it('puts on the event that ends a call the number of requests being served across it', () => {
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
      counters: newCaptureCounters(),
      emit: (event) => events.push(event),
    });
    const records: LoaderRecord[] = [
      {
        kind: 'ready',
        abiVersion: 1,
        loaderTgid: 1,
        captureCap: 4096,
        ringBytes: 1 << 23,
        pollMs: 10,
        features: { asyncConnect: true, tls: false },
        monotonicNs: 1_000_000_000n,
        realtimeNs: 1_796_000_000_000_000_000n,
      },
      data(1, 'ingress', REQUEST), // serving a request...
      data(2, 'egress', REQUEST), // ...it calls out
      data(2, 'ingress', RESPONSE), // the call ends: one request being served
      data(1, 'egress', RESPONSE), // the request is answered
      data(3, 'egress', REQUEST), // a call outside any request
      data(3, 'ingress', RESPONSE), // ends with no cause
      // The STATS that closes the window (no loss): records wait in the loss gate until one comes.
      {
        kind: 'stats',
        monotonicNs: ts + 1000n,
        realtimeNs: ts + 1000n + 1_795_999_999_000_000_000n,
        ringRecords: 6,
        ringBytes: 600,
        forwardedRecords: 6,
        forwardedBytes: 600,
        loaderDroppedRecords: 0,
        loaderDroppedBytes: 0,
        kernelDrops: {
          RINGBUF_FULL: 0,
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
        },
      },
    ];
    builder.push(records);
    builder.endRun();
    const ends = events.filter((e) => e.causalCandidates.length > 0);
    assert.deepEqual(
      ends.map((e) => [e.connection.localPort, e.causalCandidates]),
      [
        [40_002, [1]],
        [40_003, [0]],
      ],
    );
  });
});
