/**
 * The OTLP sink against a receiver no one here wrote: a real Jaeger v2 (test/helpers/jaeger.ts), over
 * OTLP/gRPC and over OTLP/HTTP, the second configured only through the standard OpenTelemetry variables.
 * The traces are read back through Jaeger's query API — what its UI shows: structure, timings,
 * attributes, and each span's process (the OTLP resource) with its attributes.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Span } from '../../../schemas/types.ts';
import type { TestKafka } from '../../../testkit/kafka.ts';
import { makeTraces, produceSpans, QUICK, sinkKafka } from '../../../testkit/span-traffic.ts';
import { Jaeger, type JaegerTrace } from '../../helpers/jaeger.ts';
import { waitFor } from '../../helpers/wait.ts';
import { type RunningCli, startCli } from '../../processors/runtime/helpers.ts';

function tag(tags: JaegerTrace['processes'][string]['tags'], key: string): unknown {
  return tags.find((t) => t.key === key)?.value;
}

/** Every trace of `spans` as Jaeger has it, once it has all their spans. */
async function tracesIn(jaeger: Jaeger, spans: readonly Span[]): Promise<Map<string, JaegerTrace>> {
  const expected = new Map<string, number>();
  for (const s of spans) expected.set(s.traceId, (expected.get(s.traceId) ?? 0) + 1);
  const found = new Map<string, JaegerTrace>();
  await waitFor(
    `${expected.size} traces in Jaeger`,
    async () => {
      for (const [traceId, count] of expected) {
        if (found.has(traceId)) continue;
        const trace = await jaeger.trace(traceId);
        if (trace !== undefined && trace.spans.length === count) found.set(traceId, trace);
      }
      return found.size === expected.size;
    },
    { timeoutMs: 90_000, intervalMs: 500 },
  );
  return found;
}

function checkTraces(traces: Map<string, JaegerTrace>, spans: readonly Span[]): void {
  for (const span of spans) {
    const trace = traces.get(span.traceId)!;
    const got = trace.spans.find((s) => s.spanID === span.spanId);
    assert.ok(got, `span ${span.spanId} in trace ${span.traceId}`);
    assert.equal(got.operationName, span.name);
    // Jaeger keeps microseconds.
    assert.equal(BigInt(got.startTime), span.startTimeUnixNano / 1000n);
    if (span.parentSpanId !== null)
      assert.deepEqual(
        got.references.map((r) => [r.refType, r.spanID]),
        [['CHILD_OF', span.parentSpanId]],
      );
    assert.equal(tag(got.tags, 'span.kind'), span.kind.toLowerCase());
    assert.equal(tag(got.tags, 'http.request.method'), span.http.method);
    assert.equal(tag(got.tags, 'url.path'), span.http.path);
    assert.equal(tag(got.tags, 'network.peer.port'), span.peer.port);
    assert.equal(tag(got.tags, 'meshpipe.link.method'), span.link.method);
    assert.equal(tag(got.tags, 'otel.scope.name'), 'meshpipe');
    const process = trace.processes[got.processID]!;
    assert.equal(process.serviceName, span.local.service);
    assert.equal(tag(process.tags, 'host.name'), span.local.node);
    assert.equal(tag(process.tags, 'process.pid'), span.local.pid);
    assert.equal(tag(process.tags, 'k8s.pod.name'), span.local.pod);
  }
}

describe('OTLP sink to Jaeger v2', { timeout: 300_000 }, () => {
  let k: TestKafka;
  let jaeger: Jaeger;
  let dir: string;
  let env: Record<string, string>;
  const running: RunningCli[] = [];

  before(async () => {
    k = await sinkKafka('jaeger');
    jaeger = await Jaeger.start();
    dir = mkdtempSync(join(tmpdir(), 'meshpipe-jaeger-sink-'));
    const config = join(dir, 'meshpipe.json');
    writeFileSync(config, JSON.stringify({ sinks: { otlp: QUICK } }));
    env = { ...k.env, MESHPIPE_CONFIG: config };
  });
  after(async () => {
    for (const run of running) run.child.kill('SIGKILL');
    await jaeger.stop();
    await k.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  async function deliver(
    args: string[],
    extraEnv: Record<string, string>,
    spans: Span[],
  ): Promise<Map<string, JaegerTrace>> {
    const sink = startCli(['sink', 'otlp', ...args, '--json'], { ...env, ...extraEnv });
    running.push(sink);
    await produceSpans(k, spans);
    const traces = await tracesIn(jaeger, spans);
    sink.child.kill('SIGTERM');
    assert.equal(await sink.exited, 0, sink.stderr().slice(-2000));
    return traces;
  }

  it('over OTLP/gRPC: traces arrive whole, with their resources and attributes', async () => {
    const spans = makeTraces(10, 41);
    const traces = await deliver(['--endpoint', jaeger.grpcEndpoint], {}, spans);
    checkTraces(traces, spans);
    assert.ok((await jaeger.services()).includes('gateway'));
  });

  it('over OTLP/HTTP, set up by OTEL_EXPORTER_OTLP_* and OTEL_RESOURCE_ATTRIBUTES alone', async () => {
    const environment = `test-${randomBytes(3).toString('hex')}`;
    const spans = makeTraces(10, 42);
    const traces = await deliver(
      [],
      {
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
        OTEL_EXPORTER_OTLP_ENDPOINT: jaeger.httpEndpoint,
        OTEL_EXPORTER_OTLP_COMPRESSION: 'gzip',
        OTEL_RESOURCE_ATTRIBUTES: `deployment.environment.name=${environment},service.name=not-used`,
      },
      spans,
    );
    checkTraces(traces, spans);
    for (const trace of traces.values()) {
      for (const process of Object.values(trace.processes)) {
        assert.equal(tag(process.tags, 'deployment.environment.name'), environment);
        assert.notEqual(process.serviceName, 'not-used', "the observed process's name wins");
      }
    }
  });
});
