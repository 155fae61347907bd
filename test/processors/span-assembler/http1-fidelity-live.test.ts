/**
 * HTTP/1 parser fidelity on real traffic (issue 14 item 7), through the whole span path: Python's
 * http.client and raw sockets (test/bpf/fixtures/http1-probes.py) against Node's http server and nginx
 * in another pod, captured by the collector (real eBPF), produced to a real Kafka, assembled by the
 * span-assembler. What the client read back is the ground truth: every answer it got is one SERVER
 * and one CLIENT span, and nothing else is —
 * - extension methods (PURGE, REPORT, SEARCH, QUERY, M-SEARCH, LINK, UNLINK, SOURCE) on a keep-alive
 *   connection, PURGE as a connection's first request, and 60 requests of an unlisted method (BREW,
 *   answered by nginx) past the kernel's copy budget;
 * - a request after a stray CRLF whose first bytes came in a write of their own;
 * - smuggling probes (bare LF, obs-fold, a control byte, a chunked body ended by "0\n\n"): the probe
 *   and the answer the server sent are a span (incomplete), the request hidden behind it is not;
 * - a request with 200 fields: an incomplete span marked `truncated`, not a missing one.
 * Needs root (eBPF, namespaces) and a Kafka (scripts/test starts one).
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import type { Collector } from '../../../collectors/collector.ts';
import type { ProcessorHost } from '../../../processors/runtime/host.ts';
import type { Span } from '../../../schemas/types.ts';
import { type TestKafka, testKafka } from '../../../testkit/kafka.ts';
import { createPodPair, type PodPair, podExec, requireRoot, stopProcess } from '../../bpf/helpers/pods.ts';
import { PYTHON } from '../../bpf/helpers/tls.ts';
import {
  collectorConfig,
  startCollector,
  startHttpServer,
  startNginx,
  testPort,
} from '../../collectors/helpers/harness.ts';
import { collectSpans, runHosts } from '../kafka-pipeline.ts';

requireRoot();

const PROBES = new URL('../../bpf/fixtures/http1-probes.py', import.meta.url).pathname;
const EXTENSION = ['PURGE', 'REPORT', 'SEARCH', 'QUERY', 'M-SEARCH', 'LINK', 'UNLINK', 'SOURCE'];

interface Seen {
  readonly statuses: number[];
  readonly port: number;
}

describe('HTTP/1 parser fidelity on real traffic', () => {
  let k: TestKafka;
  let pods: PodPair;
  let collector: Collector | undefined;
  let server: ChildProcess | undefined;
  let nginx: { stop(): Promise<void> } | undefined;
  const hosts: ProcessorHost[] = [];
  const nodePort = testPort();
  const nginxPort = nodePort + 1;
  let seen: Record<string, Seen>;
  let spans: Span[] = [];

  /** The spans of one side of a case's connection (the client's ephemeral port at either end). */
  const spansOf = (name: string, kind: 'SERVER' | 'CLIENT', all: readonly Span[] = spans) => {
    const port = seen[name]!.port;
    return (
      all
        .filter((s) => s.kind === kind && (kind === 'SERVER' ? s.peer.port : s.local.port) === port)
        // By end: a request after a stray CRLF starts with the write that carried the CRLF (README.md).
        .sort((a, b) => (a.endTimeUnixNano < b.endTimeUnixNano ? -1 : 1))
    );
  };

  before(async () => {
    k = await testKafka('h1-fidelity');
    await k.createTopics();
    pods = createPodPair('h1fid');
    const config = collectorConfig({
      brokers: k.brokers,
      prefix: k.prefix,
      collector: { ports: [nodePort, nginxPort] },
    });
    collector = (await startCollector(config)).collector;
    hosts.push(...(await runHosts(k.kafka, k.prefix)));
    server = await startHttpServer(pods.b, [`0.0.0.0:${nodePort}`]);
    nginx = await startNginx(pods.b, nginxPort);
    const out = await podExec(
      pods.a,
      PYTHON,
      [PROBES, pods.b.addr, String(nodePort), String(nginxPort)],
      60_000,
    );
    seen = JSON.parse(out.trim().split('\n').at(-1)!) as Record<string, Seen>;
    const answers = (name: string) => seen[name]!.statuses.length;
    // Waits for one span per answer on each side; if some never come, each case below says which.
    await collectSpans(
      k,
      (got) => {
        spans = got;
        return Object.keys(seen).every(
          (name) =>
            spansOf(name, 'SERVER', got).length >= answers(name) &&
            spansOf(name, 'CLIENT', got).length >= answers(name),
        );
      },
      90_000,
    ).catch(() => {});
  });

  after(async () => {
    const bounded = (p: Promise<unknown> | undefined) =>
      Promise.race([Promise.resolve(p).catch(() => {}), new Promise((r) => setTimeout(r, 30_000).unref())]);
    await stopProcess(server);
    await bounded(nginx?.stop());
    await bounded(collector?.stop());
    await bounded(Promise.allSettled(hosts.map((h) => h.stop())));
    pods?.remove();
    await bounded(k?.cleanup());
  });

  /** Method, target, status and completeness of each span of a case, on both sides. */
  const summary = (name: string, kind: 'SERVER' | 'CLIENT') =>
    spansOf(name, kind).map(
      (s) =>
        `${s.attributes['http.request.method_original'] ?? s.http.method} ${s.http.target} -> ${s.http.statusCode}` +
        (s.incomplete ? ` (${s.incompleteReason})` : ''),
    );

  it('extension methods on a keep-alive connection, and PURGE opening one, are spans', () => {
    assert.deepEqual(seen.methods!.statuses, Array(9).fill(200));
    assert.deepEqual(seen['first-purge']!.statuses, [200, 200]);
    for (const kind of ['SERVER', 'CLIENT'] as const) {
      assert.deepEqual(summary('methods', kind), [
        'GET /hello?c=methods -> 200',
        ...EXTENSION.map((m) => `${m} /hello?c=m-${m} -> 200`),
      ]);
      assert.deepEqual(summary('first-purge', kind), [
        'PURGE /hello?c=first-purge -> 200',
        'GET /hello?c=after-purge -> 200',
      ]);
    }
    // Outside the methods OpenTelemetry knows, the span says _OTHER and keeps the original.
    const purge = spansOf('first-purge', 'SERVER')[0]!;
    assert.equal(purge.http.method, '_OTHER');
    assert.equal(purge.attributes['http.request.method_original'], 'PURGE');
  });

  it('a method no list has, on a connection known to be HTTP, past the copy budget', () => {
    assert.deepEqual(seen['token-methods']!.statuses, Array(61).fill(200));
    for (const kind of ['SERVER', 'CLIENT'] as const) {
      assert.deepEqual(summary('token-methods', kind), [
        'GET /?c=token-first -> 200',
        ...Array.from({ length: 60 }, (_, i) => `BREW /?c=brew-${i} -> 200`),
      ]);
    }
  });

  it('a stray CRLF, then the next request split across writes: both requests, complete', () => {
    assert.deepEqual(seen['stray-crlf']!.statuses, [200, 200]);
    for (const kind of ['SERVER', 'CLIENT'] as const) {
      assert.deepEqual(summary('stray-crlf', kind), [
        'POST /hello?c=stray -> 200',
        'GET /hello?c=after-stray -> 200',
      ]);
      for (const s of spansOf('stray-crlf', kind))
        assert.equal(s.attributes['meshpipe.capture.resync'], undefined);
    }
  });

  it('smuggling probes: the answer the server sent is a span, the request hidden behind the probe is not', () => {
    for (const name of ['bare-lf', 'obs-fold', 'ctl']) {
      assert.deepEqual(seen[name]!.statuses, [400], `${name}: the server rejected the probe`);
      for (const kind of ['SERVER', 'CLIENT'] as const) {
        // The request line of the head the server rejected, with the 400 it got; not its fields.
        assert.deepEqual(summary(name, kind), [`GET /hello?c=${name} -> 400 (truncated)`], `${name} ${kind}`);
      }
    }
    assert.deepEqual(seen['chunk-lf']!.statuses, [200], 'the POST ran; the request behind it did not');
    for (const kind of ['SERVER', 'CLIENT'] as const) {
      assert.deepEqual(summary('chunk-lf', kind), ['POST /hello?c=chunk-lf -> 200 (unknown_bytes)']);
    }
    const smuggled = spans.filter((s) => s.http.target.includes('smuggled'));
    assert.deepEqual(smuggled, [], 'no span for a request no server ran');
  });

  it('a head over the field limit is an incomplete span marked truncated, and the next request is whole', () => {
    assert.deepEqual(seen['many-headers']!.statuses, [200, 200]);
    for (const kind of ['SERVER', 'CLIENT'] as const) {
      assert.deepEqual(summary('many-headers', kind), [
        'GET /hello?c=many-headers -> 200 (truncated)',
        'GET /hello?c=after-many -> 200',
      ]);
    }
  });
});
