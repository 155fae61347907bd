/**
 * red-metrics against the implementation it replaced (reference/: red-metrics as it was at bdc2226, with
 * the global series limit and gRPC series, kept unchanged as the oracle) on random span streams: the
 * same samples out of every punctuation, in the same order (but for one change, routesFirst), and the same counters. The new one keeps its state live, resolves series once per combination of the fields that
 * decide them and rewrites exemplars in place; none of that may change a value, a label, an exemplar
 * or a start time.
 *
 * The streams mix what it meets: both kinds, services with and without namespaces, spans with a route
 * and paths to template, status codes of every class and none (with an error type, an incomplete
 * reason, or neither), known and unknown peers, Host headers with and without ports (IPv6 too), empty
 * and negative durations, spans late for their window and from a clock ahead, Kubernetes workloads,
 * gRPC calls (every status, none, with and without names); configs with small cardinality limits
 * (overflow), a small partition limit (the global overflow series), idle expiry, no exemplars, user
 * route rules.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { seededRandom } from '../../../lib/seeded-random.ts';
import redMetrics from '../../../processors/red-metrics/index.ts';
import { testProcessor } from '../../../processors/runtime/test-context.ts';
import type { MetricSample, Span } from '../../../schemas/types.ts';
import referenceRedMetrics from '../../../testkit/reference/red-metrics/index.ts';
import { makeSpan } from './spans.ts';

const T0 = 1_700_000_000_000;

type Step = { span: Span; atMs: number } | { punctuateAtMs: number };

/** `narrow`: one service, method and route, so that spans differ only in the remaining fields. */
function randomSteps(seed: number, size: number, narrow = false): Step[] {
  const rand = seededRandom(seed);
  const pick = <T>(xs: readonly T[]) => xs[narrow ? 0 : Math.floor(rand() * xs.length)]!;
  const services = ['orders', 'users', 'payments', 'gateway'].slice(0, 1 + Math.floor(rand() * 4));
  const routes = ['/orders/{id}', '/users', '/pay', '/a/b/c'];
  const paths = [
    '/orders/42',
    '/orders/77',
    '/users/abc',
    '/v2/items/1234567',
    '/x/00000000-0000-0000-0000-000000000000',
  ];
  const any = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)]!;
  const hosts = [null, 'orders:8080', 'orders', '[::1]:9000', '  ', 'api.example.com:443', 'h:port'];
  const steps: Step[] = [];
  let clock = T0 + Math.floor(rand() * 20_000);
  for (let seq = 0; seq < size; seq++) {
    clock += rand() < 0.03 ? Math.floor(rand() * 120_000) : Math.floor(rand() * 400);
    if (rand() < 0.08) {
      steps.push({ punctuateAtMs: clock });
      continue;
    }
    const kind = rand() < 0.5 ? 'SERVER' : 'CLIENT';
    const statusRoll = rand();
    const status =
      statusRoll < 0.1
        ? null
        : statusRoll < 0.75
          ? 200
          : statusRoll < 0.85
            ? any([404, 429])
            : any([500, 503]);
    const endMs =
      clock +
      (rand() < 0.1 ? -Math.floor(rand() * 40_000) : rand() < 0.05 ? 30_000 : -Math.floor(rand() * 200));
    const span = makeSpan({
      service: pick(services),
      kind,
      method: pick(['GET', 'POST', '_OTHER']),
      route: rand() < 0.6 ? pick(routes) : null,
      path: pick(paths),
      status,
      errorType: status === null ? any([null, 'timeout', 'ECONNREFUSED']) : undefined,
      peer: rand() < 0.3 ? null : any(services),
      host: any(hosts),
      durationMs: rand() < 0.05 ? -1 : rand() < 0.9 ? rand() * 50 : rand() * 20_000,
      endMs,
      seq,
      namespace: rand() < 0.3 ? pick([null, '', 'shop']) : null,
    });
    if (status === null && rand() < 0.5) span.incompleteReason = any([null, 'timeout']);
    if (rand() < 0.2) span.peer.address = any(['10.240.0.3', '10.240.0.9']);
    if (rand() < 0.2) {
      span.local.workloadKind = any(['Deployment', 'StatefulSet', 'Pod', null]);
      span.local.workload = any([`${span.local.service}-v1`, null]);
    }
    if (rand() < 0.25) {
      const code = any([0, 0, 0, 2, 4, 5, 14, null]);
      span.rpc = {
        system: 'grpc',
        service: any(['shop.Orders', 'shop.Users', null]),
        method: any(['Get', 'List', null]),
        grpcStatusCode: code,
        requestMessages: 1,
        responseMessages: 1,
        messagesExact: true,
      };
      const failed = code === null || code !== 0;
      span.status = failed && (kind === 'CLIENT' || code !== 5) ? 'ERROR' : 'UNSET';
      span.errorType = span.status === 'ERROR' ? any([null, 'UNAVAILABLE', 'NOT_FOUND']) : null;
    }
    steps.push({ span, atMs: clock });
  }
  steps.push({ punctuateAtMs: clock + 200_000 });
  return steps;
}

type Emitted = ReturnType<ReturnType<typeof testProcessor>['punctuate']>;

/**
 * The one change in the order of the samples: route series and edges are two stores now, so a
 * punctuation emits every route series, then every edge (each kind in the reference's order), where
 * the reference went through one store of both kinds in the order they were created. Samples are keyed
 * by series: the order of each series' samples, all a consumer of the topic can rely on, is the same.
 */
function routesFirst(records: Emitted): Emitted {
  const isEdge = (r: Emitted[number]) => (r.value as MetricSample).name.startsWith('traces.service_graph.');
  return [...records.filter((r) => !isEdge(r)), ...records.filter(isEdge)];
}

function run(
  definition: typeof redMetrics,
  steps: Step[],
  config: Record<string, unknown>,
  order: (records: Emitted) => Emitted = (records) => records,
) {
  const t = testProcessor(definition, { config, now: T0 });
  const out: unknown[] = [];
  for (const step of steps) {
    if ('span' in step) {
      t.setTime(step.atMs);
      out.push(...t.process(step.span));
    } else {
      t.setTime(step.punctuateAtMs);
      out.push(...order(t.punctuate()));
    }
  }
  return { out, counters: t.counters() };
}

type Run = ReturnType<typeof run>;

/** Record by record: a failure names the first record that differs (a diff of whole streams takes minutes). */
function assertSame(actual: Run, expected: Run): void {
  const n = Math.min(actual.out.length, expected.out.length);
  for (let i = 0; i < n; i++) {
    if (!isDeepStrictEqual(actual.out[i], expected.out[i]))
      assert.deepStrictEqual(actual.out[i], expected.out[i], `record ${i} differs`);
  }
  assert.equal(actual.out.length, expected.out.length, 'records emitted');
  assert.deepStrictEqual(actual.counters, expected.counters);
}

const CONFIGS: Array<Record<string, unknown>> = [
  {},
  { windowMs: 1_000, allowedLatenessMs: 0, punctuateMs: 100 },
  { cardinalityLimit: 10, windowMs: 2_000, allowedLatenessMs: 500 },
  { exemplars: false, idleSeriesTimeoutMs: 10_000, windowMs: 5_000 },
  {
    routeRules: { '^v\\d+$': '{version}' },
    routeMaxSegments: 2,
    unknownClient: 'outside',
    cardinalityLimit: 12,
  },
  { maxSeries: 20, cardinalityLimit: 10, idleSeriesTimeoutMs: 20_000, windowMs: 2_000 },
];

describe('red-metrics: the same samples as the implementation it replaced', () => {
  test('random streams, every config', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 31 }), fc.nat(CONFIGS.length - 1), (seed, c) => {
        const steps = randomSteps(seed, 200);
        const expected = run(
          referenceRedMetrics as unknown as typeof redMetrics,
          steps,
          CONFIGS[c]!,
          routesFirst,
        );
        const actual = run(redMetrics, steps, CONFIGS[c]!);
        assertSame(actual, expected);
      }),
      { numRuns: 60 },
    );
  });

  test('a longer stream: overflow, late spans, expiry and exemplars all at work', () => {
    const seen: Record<string, number> = {};
    for (const [i, config] of CONFIGS.entries()) {
      const steps = randomSteps(5 + i, 1_500, i % 2 === 0);
      const expected = run(referenceRedMetrics as unknown as typeof redMetrics, steps, config, routesFirst);
      assertSame(run(redMetrics, steps, config), expected);
      for (const [name, n] of Object.entries(expected.counters)) seen[name] = (seen[name] ?? 0) + n;
    }
    for (const name of [
      'overflow_spans',
      'global_overflow_spans',
      'late_spans',
      'series_expired',
      'series_created',
      'windows_closed',
    ]) {
      assert.ok((seen[name] ?? 0) > 0, `${name}: ${JSON.stringify(seen)}`);
    }
  });
});
