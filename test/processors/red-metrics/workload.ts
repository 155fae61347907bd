/**
 * A generated workload shaped like the demo (docs/demo.md: a load generator → gateway → orders →
 * inventory, its route mix, 404s and 422s, injected 5xx turned into 502 upstream), as spans with known
 * durations and statuses, plus the metric values those spans must produce, computed here from the
 * semantic conventions alone (not with red-metrics' code), so tests compare against an independent
 * ground truth.
 */
import type { KafkaClient } from '../../../lib/kafka.ts';
import { seededRandom } from '../../../lib/seeded-random.ts';
import { codecFor } from '../../../schemas/codec.ts';
import type { Span } from '../../../schemas/types.ts';
import { makeSpan } from './spans.ts';

/** The bucket bounds the OpenTelemetry HTTP conventions advise, in seconds. */
export const SEMCONV_BOUNDS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];

/**
 * `requests` demo requests ending around `endMs`, from sequence number `firstSeq` (ids are derived from
 * it, so two calls with different ranges never share a trace). About 5% of inventory calls fail (500).
 */
export function demoSpans(
  requests: number,
  options: { endMs: number; firstSeq?: number; seed?: number },
): Span[] {
  const random = seededRandom(options.seed ?? 7);
  const spans: Span[] = [];
  let seq = options.firstSeq ?? 0;
  for (let r = 0; r < requests; r++) {
    const id = seq++;
    const endMs = options.endMs - Math.floor(random() * 50);
    const pick = random();
    // Durations in ms with a slow tail, so several buckets fill.
    const slow = random() < 0.03 ? 300 + random() * 2_000 : 0;
    const inventoryMs = 0.5 + random() * 4 + slow;
    const common = { endMs, seq: id };
    if (pick < 0.05) {
      // An unknown route: gateway answers 404 itself.
      spans.push(
        makeSpan({
          ...common,
          service: 'loadgen',
          kind: 'CLIENT',
          peer: 'gateway',
          route: '/api/unknown',
          status: 404,
          durationMs: 2,
        }),
      );
      spans.push(
        makeSpan({
          ...common,
          service: 'gateway',
          kind: 'SERVER',
          peer: 'loadgen',
          route: '/api/unknown',
          status: 404,
          durationMs: 1,
        }),
      );
      continue;
    }
    const list = pick < 0.15;
    const post = !list && pick < 0.3;
    const method = post ? 'POST' : 'GET';
    const gatewayRoute = list ? '/api/orders' : post ? '/api/orders' : '/api/orders/{id}';
    const ordersRoute = list ? '/orders' : post ? '/orders' : '/orders/{id}';
    const calls = list ? 0 : post ? 1 : 1 + Math.floor(random() * 3);
    let ordersStatus = post ? (random() < 0.05 ? 422 : 201) : !list && random() < 0.09 ? 404 : 200;
    let ordersMs = 1 + random() * 3;
    for (let c = 0; c < calls && ordersStatus < 400; c++) {
      const failed = random() < 0.05;
      const status = failed ? 500 : 200;
      const callSeq = id * 8 + c;
      spans.push(
        makeSpan({
          endMs,
          seq: 1e9 + callSeq,
          service: 'orders',
          kind: 'CLIENT',
          peer: 'inventory',
          route: '/inventory/{id}',
          status,
          durationMs: inventoryMs + 0.3,
        }),
      );
      spans.push(
        makeSpan({
          endMs,
          seq: 1e9 + callSeq,
          service: 'inventory',
          kind: 'SERVER',
          peer: 'orders',
          route: '/inventory/{id}',
          status,
          durationMs: inventoryMs,
        }),
      );
      ordersMs += inventoryMs + 0.5;
      if (failed) ordersStatus = 502;
    }
    const gatewayStatus = ordersStatus;
    spans.push(
      makeSpan({
        ...common,
        seq: 2e9 + id,
        service: 'gateway',
        kind: 'CLIENT',
        peer: 'orders',
        method,
        route: ordersRoute,
        status: ordersStatus,
        durationMs: ordersMs + 0.4,
      }),
    );
    spans.push(
      makeSpan({
        ...common,
        seq: 2e9 + id,
        service: 'orders',
        kind: 'SERVER',
        peer: 'gateway',
        method,
        route: ordersRoute,
        status: ordersStatus,
        durationMs: ordersMs,
      }),
    );
    spans.push(
      makeSpan({
        ...common,
        service: 'loadgen',
        kind: 'CLIENT',
        peer: 'gateway',
        method,
        route: gatewayRoute,
        status: gatewayStatus,
        durationMs: ordersMs + 1.5,
      }),
    );
    spans.push(
      makeSpan({
        ...common,
        service: 'gateway',
        kind: 'SERVER',
        peer: 'loadgen',
        method,
        route: gatewayRoute,
        status: gatewayStatus,
        durationMs: ordersMs + 1,
      }),
    );
  }
  return spans;
}

/** Produces spans to the spans topic, keyed by trace id as the trace linker does. */
export async function produceSpans(kafka: KafkaClient, topic: string, spans: readonly Span[]): Promise<void> {
  const codec = codecFor<Span>('span');
  const producer = kafka.producer();
  await producer.connect();
  try {
    for (let i = 0; i < spans.length; i += 2_000) {
      await producer.send({
        topic,
        messages: spans.slice(i, i + 2_000).map((s) => ({ key: s.traceId, value: codec.encode(s) })),
      });
    }
  } finally {
    await producer.disconnect();
  }
}

export type Expected = Map<string, number>;

function key(name: string, labels: Record<string, string>): string {
  return `${name}{${Object.keys(labels)
    .sort()
    .map((k) => `${k}=${labels[k]}`)
    .join(',')}}`;
}

function add(map: Expected, name: string, labels: Record<string, string>, by: number): void {
  const k = key(name, labels);
  map.set(k, (map.get(k) ?? 0) + by);
}

/**
 * The exposition samples the spans must produce: `_count` and every `_bucket` of the two duration
 * histograms, and the service-graph request and failed totals. Prometheus label names.
 */
export function expectedSamples(spans: readonly Span[]): Expected {
  const out: Expected = new Map();
  for (const s of spans) {
    const server = s.kind === 'SERVER';
    const code = s.http.statusCode;
    const error = code === null || code >= (server ? 500 : 400) ? String(code ?? s.errorType) : null;
    const labels: Record<string, string> = {
      service_name: s.local.service,
      http_request_method: s.http.method,
      http_route: s.http.route ?? '',
    };
    if (code !== null) labels.http_response_status_code = String(code);
    if (error !== null) labels.error_type = error;
    if (s.peer.service !== null) labels.peer_service = s.peer.service;
    if (!server) labels.server_address = (s.http.host ?? s.peer.address).replace(/:\d+$/, '');
    const name = server ? 'http_server_request_duration_seconds' : 'http_client_request_duration_seconds';
    const seconds = Number(s.endTimeUnixNano - s.startTimeUnixNano) / 1e9;
    add(out, `${name}_count`, labels, 1);
    for (const le of [...SEMCONV_BOUNDS, Number.POSITIVE_INFINITY]) {
      add(
        out,
        `${name}_bucket`,
        { ...labels, le: le === Number.POSITIVE_INFINITY ? '+Inf' : String(le) },
        seconds <= le ? 1 : 0,
      );
    }
    // An edge's request is counted by the client span, or by the server span of an unknown caller.
    if (!server || s.peer.service === null) {
      const edge = server
        ? { client: 'user', server: s.local.service }
        : { client: s.local.service, server: s.peer.service ?? '' };
      add(out, 'traces_service_graph_request_total', edge, 1);
      add(out, 'traces_service_graph_request_failed_total', edge, error === null ? 0 : 1);
    }
  }
  return out;
}

/** The same keys from a scrape (text format), for the families `expected` covers. */
export function scrapedSamples(
  samples: ReadonlyArray<{ name: string; labels: Record<string, string>; value: number }>,
  families: readonly string[],
): Expected {
  const out: Expected = new Map();
  for (const s of samples) if (families.includes(s.name)) out.set(key(s.name, s.labels), s.value);
  return out;
}

export const COUNTED_FAMILIES = [
  'http_server_request_duration_seconds_count',
  'http_server_request_duration_seconds_bucket',
  'http_client_request_duration_seconds_count',
  'http_client_request_duration_seconds_bucket',
  'traces_service_graph_request_total',
  'traces_service_graph_request_failed_total',
];
