/**
 * The whole chain under a real Prometheus: the demo topology (gateway → orders → inventory, steady
 * load, 5% injected inventory errors) captured by the collector (real eBPF), span-assembler and
 * trace-linker, red-metrics, the Prometheus sink, and Debian's Prometheus scraping it every second with
 * meshpipe's recording and alert rules. Then every PromQL expression of every dashboard and recording
 * rule must return data, every alert expression must evaluate, and exemplars must carry trace ids.
 *
 * Without root or the built eBPF loader the capture cannot run: the spans are then generated in the
 * demo's shape (test/processors/red-metrics/workload.ts) and the collector's expressions are reported
 * as not checked, rather than passing for a reason that is not true.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Collector } from '../../collectors/collector.ts';
import { type Demo, startDemo } from '../../demo/topology.ts';
import type { ProcessorHost } from '../../processors/runtime/host.ts';
import type { RunningSink } from '../../sinks/runtime/host.ts';
import { type TestKafka, testKafka, testLogger } from '../../testkit/kafka.ts';
import { collectorConfig, startCollector } from '../collectors/helpers/harness.ts';
import { freePort, PROMETHEUS_BINARY, startPrometheus, type TestPrometheus } from '../helpers/prometheus.ts';
import { waitFor } from '../helpers/wait.ts';
import { runHosts } from '../processors/kafka-pipeline.ts';
import { prometheusSinkFor, redMetricsHost } from '../processors/red-metrics/harness.ts';
import { demoSpans, produceSpans } from '../processors/red-metrics/workload.ts';
import { dashboardExpressions, type Expression, ruleExpressions } from './promql.ts';

const LOADER = fileURLToPath(new URL('../../bpf/build/meshpipe-loader', import.meta.url));
const REAL_CAPTURE = process.getuid?.() === 0 && existsSync(LOADER) && spawnSync('ip', ['-V']).status === 0;
const HAVE_PROMETHEUS = existsSync(PROMETHEUS_BINARY);

describe('dashboards and rules on the live chain', {
  skip: HAVE_PROMETHEUS ? false : `no ${PROMETHEUS_BINARY}`,
}, () => {
  let k: TestKafka;
  let demo: Demo | undefined;
  let collector: Collector | undefined;
  let prometheus: TestPrometheus | undefined;
  let sink: RunningSink | undefined;
  let generator: NodeJS.Timeout | undefined;
  const hosts: ProcessorHost[] = [];

  before(async () => {
    k = await testKafka('dashboards-e2e');
    await k.createTopics();
    if (REAL_CAPTURE) {
      const config = collectorConfig({
        brokers: k.brokers,
        prefix: k.prefix,
        collector: { ports: [8080], metricsIntervalMs: 1_000 },
      });
      collector = (await startCollector(config)).collector;
      hosts.push(...(await runHosts(k.kafka, k.prefix)));
      demo = await startDemo({
        rate: 12,
        unique: true,
        faults: { inventory: { errorRate: 0.05 } },
        handleSignals: false,
        logger: testLogger,
      });
    } else {
      testLogger.warn("no root or no eBPF loader: spans are generated in the demo's shape");
      let seq = 0;
      generator = setInterval(() => {
        const spans = demoSpans(10, { endMs: Date.now(), firstSeq: seq, seed: seq });
        seq += 10;
        void produceSpans(k.kafka, k.topic('spans'), spans).catch(() => {});
      }, 500);
    }
    const red = redMetricsHost(k);
    hosts.push(red);
    await red.start();
    const address = `127.0.0.1:${await freePort()}`;
    sink = await prometheusSinkFor(k, address);
    prometheus = await startPrometheus({ targets: [address] });
  });

  after(async () => {
    if (generator !== undefined) clearInterval(generator);
    await demo?.stop();
    await collector?.stop();
    await prometheus?.stop();
    await Promise.allSettled(hosts.map((h) => h.stop()));
    await sink?.stop();
    await k.cleanup();
  });

  it('every dashboard and recording-rule expression returns data; alerts evaluate; exemplars link traces', {
    timeout: 300_000,
  }, async (t) => {
    const p = prometheus!;
    // Traffic on every hop, errors included, and the pipeline health of every component.
    const ready = [
      'count(count by (service_name) (http_server_request_duration_seconds_count)) >= 3',
      'http_server_request_duration_seconds_count{error_type!=""}',
      'count(count by (client, server) (traces_service_graph_request_total{connection_type=""})) >= 2',
      'meshpipe_processor_records_consumed_total{processor="red-metrics"}',
      'meshpipe_sink_records_exported_total{sink="prometheus"}',
      ...(REAL_CAPTURE ? ['meshpipe_collector_events_captured_total'] : []),
    ];
    for (const expr of ready) {
      await waitFor(`Prometheus has ${expr}`, async () => (await p.query(expr)).length > 0, {
        timeoutMs: 90_000,
        intervalMs: 1_000,
      });
    }
    const services = await p.query('sum by (service_name) (http_server_request_duration_seconds_count)');
    assert.ok(services.length >= 3, JSON.stringify(services.map((s) => s.metric)));
    // The service dashboard is checked for the service in the middle of the chain (the demo's orders).
    const names = services.map((s) => s.metric.service_name!);
    const middle = names.find((n) => n.endsWith('orders')) ?? names[0]!;

    const checked: Expression[] = [...dashboardExpressions({ service: middle }), ...ruleExpressions()];
    const collectorOnly = (e: Expression) => /meshpipe_collector_/.test(e.expr) && !REAL_CAPTURE;
    const missing: string[] = [];
    // Rates need two scrapes inside their range and recording rules an evaluation after that: retry
    // the stragglers for a while before calling them missing.
    await waitFor(
      'every expression returning data',
      async () => {
        missing.length = 0;
        for (const e of checked) {
          const result = await p.query(e.expr); // throws on a parse or evaluation error
          if (!e.alert && !collectorOnly(e) && result.length === 0) missing.push(`${e.origin}: ${e.expr}`);
        }
        return missing.length === 0;
      },
      { timeoutMs: 120_000, intervalMs: 2_000 },
    ).catch((err: Error) => {
      throw new Error(`${err.message}\nexpressions without data:\n${missing.join('\n')}`);
    });
    t.diagnostic(`services: ${names.join(', ')}; ${checked.length} expressions checked`);
    if (!REAL_CAPTURE) {
      t.diagnostic(
        `${checked.filter(collectorOnly).length} collector expressions not checked: they need the real capture (root and bpf/build)`,
      );
    }

    const now = Date.now() / 1000;
    const exemplars = await p.exemplars('http_server_request_duration_seconds_bucket', now - 600, now + 60);
    const traceIds = exemplars.flatMap((s) => s.exemplars.map((x) => x.labels.trace_id));
    assert.ok(traceIds.length > 0, 'Prometheus stored exemplars');
    for (const id of traceIds) assert.match(id ?? '', /^[0-9a-f]{32}$/);

    const targets = await p.targets();
    assert.ok(
      targets.every((t) => t.health === 'up'),
      JSON.stringify(targets),
    );
  });
});
