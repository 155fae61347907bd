/**
 * What does checking a record's lengths and counts before decoding it (schemas/record-bounds.ts) cost,
 * beside the decode itself? Decode is on every hot path (every processor, sink and subscriber decodes
 * every record), so the check must stay a small fraction of it.
 *
 *   npm run bench:codec-bounds              (no Kafka needed)
 *   node bench/codec-bounds/run.ts --quick
 *
 * Per schema, on representative records (raw events of the recorded keep-alive workload as the
 * collector ships them, spans, histogram metric samples), in alternating rounds measured side by side:
 *   avsc          avsc's decode of the body (what the codec did before the check)
 *   bounds        the bounds walk alone
 *   checked       the walk, then avsc's decode: what the codec does now
 * and `checked / avsc` is the cost of the check on a decode.
 * Results: bench/results/codec-bounds.json.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { codecFor, HEADER_BYTES } from '../../schemas/codec.ts';
import { boundsCheckOf } from '../../schemas/record-bounds.ts';
import type { MetricSample, Span } from '../../schemas/types.ts';
import { cpuTimeNs, machineFacts } from '../environment.ts';
import { keepAliveWorkload } from '../span-assembler/workload.ts';

const QUICK = process.argv.includes('--quick');
const RESULTS = fileURLToPath(new URL('../results/codec-bounds.json', import.meta.url));
const ROUNDS = QUICK ? 5 : 15;
const TARGET_MS = QUICK ? 40 : 150;

function spans(n: number): Span[] {
  const out: Span[] = [];
  for (let i = 0; i < n; i++) {
    const hex = (i * 2654435761).toString(16).padStart(8, '0');
    out.push({
      traceId: `${hex}${hex}${hex}${hex}`,
      spanId: `${hex}${hex}`,
      parentSpanId: i % 3 === 0 ? null : `${hex}0000${hex.slice(0, 4)}`,
      traceState: null,
      name: `GET /orders/{id}`,
      kind: i % 2 === 0 ? 'SERVER' : 'CLIENT',
      startTimeUnixNano: 1_796_000_000_000_000_000n + BigInt(i) * 1000n,
      endTimeUnixNano: 1_796_000_000_000_000_000n + BigInt(i) * 1000n + 2_345_678n,
      status: i % 10 === 0 ? 'ERROR' : 'UNSET',
      statusMessage: null,
      local: {
        service: 'orders',
        namespace: 'shop',
        pod: 'orders-7d9f',
        podUid: null,
        container: null,
        workload: 'orders',
        workloadKind: null,
        node: 'node-a',
        pid: 2100,
        tid: 2101,
        comm: 'node',
        exe: '/usr/bin/node',
        containerId: null,
        address: '10.0.2.10',
        port: 8080,
      },
      peer: {
        service: 'gateway',
        pod: 'gateway-5c',
        namespace: 'shop',
        address: '10.0.1.10',
        port: 40000 + i,
        workload: null,
        workloadKind: null,
      },
      http: {
        method: 'GET',
        target: `/orders/${i}?page=2`,
        path: `/orders/${i}`,
        route: '/orders/{id}',
        protocolVersion: '1.1',
        statusCode: i % 10 === 0 ? 503 : 200,
        requestBodySize: 0n,
        responseBodySize: 512n,
        requestSize: 180n,
        responseSize: 700n,
        host: 'orders:8080',
        userAgent: 'node',
      },
      rpc: null,
      errorType: i % 10 === 0 ? '503' : null,
      incomplete: false,
      incompleteReason: null,
      link: { method: 'TCP_CONNECTION', confidence: 0.9 },
      connectionKey: `10.0.1.10:${40000 + i}|10.0.2.10:8080`,
      attributes: {},
    });
  }
  return out;
}

function metricSamples(n: number): MetricSample[] {
  const bounds = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];
  const out: MetricSample[] = [];
  for (let i = 0; i < n; i++) {
    out.push({
      name: 'http.server.request.duration',
      description: 'Duration of HTTP server requests.',
      unit: 's',
      type: 'HISTOGRAM',
      labels: {
        'service.name': 'orders',
        'http.request.method': 'GET',
        'http.route': `/orders/{id}/${i % 20}`,
        'http.response.status_code': '200',
      },
      seriesId: `${i}`.padStart(16, '0'),
      stream: 'red-metrics/3',
      startTimeUnixNano: 1_796_000_000_000_000_000n,
      timeUnixNano: 1_796_000_000_000_000_000n + BigInt(i),
      value: 12.5,
      histogram: {
        count: 1000n,
        sum: 12.5,
        bounds,
        bucketCounts: bounds.map((_, j) => BigInt(j * 7)).concat([3n]),
      },
      exemplars: [],
    });
  }
  return out;
}

interface Row {
  schema: string;
  records: number;
  meanBytes: number;
  nsPerRecord: { avsc: number; bounds: number; checked: number };
  ratios: { boundsToAvsc: number; checkedToAvsc: number };
}

function measure(schema: string, values: unknown[]): Row {
  const codec = codecFor(schema);
  const records = values.map((v) => codec.encode(v));
  const type = codec.schema.type;
  const check = boundsCheckOf(type);
  let sink = 0;
  const variants: Record<keyof Row['nsPerRecord'], () => void> = {
    avsc: () => {
      for (const r of records) sink += type.decode(r, HEADER_BYTES).offset;
    },
    bounds: () => {
      for (const r of records) sink += check(r, HEADER_BYTES);
    },
    checked: () => {
      for (const r of records) {
        check(r, HEADER_BYTES);
        sink += type.decode(r, HEADER_BYTES).offset;
      }
    },
  };
  // Warm up every variant, then size a pass so that one takes about TARGET_MS.
  for (const f of Object.values(variants)) for (let i = 0; i < 3; i++) f();
  const t0 = cpuTimeNs();
  variants.checked();
  const passes = Math.max(1, Math.round((TARGET_MS * 1e6) / (cpuTimeNs() - t0)));
  const best: Record<string, number> = {};
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, f] of Object.entries(variants)) {
      const start = cpuTimeNs();
      for (let p = 0; p < passes; p++) f();
      const ns = (cpuTimeNs() - start) / (passes * records.length);
      best[name] = Math.min(best[name] ?? Number.POSITIVE_INFINITY, ns);
    }
  }
  if (sink === 0) throw new Error('nothing decoded');
  const ns = { avsc: best.avsc!, bounds: best.bounds!, checked: best.checked! };
  return {
    schema,
    records: records.length,
    meanBytes: Math.round(records.reduce((a, r) => a + r.length, 0) / records.length),
    nsPerRecord: { avsc: round1(ns.avsc), bounds: round1(ns.bounds), checked: round1(ns.checked) },
    ratios: { boundsToAvsc: round3(ns.bounds / ns.avsc), checkedToAvsc: round3(ns.checked / ns.avsc) },
  };
}

const round1 = (x: number) => Math.round(x * 10) / 10;
const round3 = (x: number) => Math.round(x * 1000) / 1000;

const workload = keepAliveWorkload({ connections: 40, exchangesPerConnection: QUICK ? 10 : 25 });
const rows = [
  measure('l7-raw-event', workload.events),
  measure('span', spans(2000)),
  measure('metric-sample', metricSamples(1000)),
];

console.log('schema           records  bytes   avsc ns   bounds ns  checked ns   bounds/avsc  checked/avsc');
for (const r of rows) {
  console.log(
    `${r.schema.padEnd(16)} ${String(r.records).padStart(7)} ${String(r.meanBytes).padStart(6)} ${String(r.nsPerRecord.avsc).padStart(9)} ${String(r.nsPerRecord.bounds).padStart(11)} ${String(r.nsPerRecord.checked).padStart(11)} ${r.ratios.boundsToAvsc.toFixed(3).padStart(13)} ${r.ratios.checkedToAvsc.toFixed(3).padStart(13)}`,
  );
}
writeFileSync(
  RESULTS,
  `${JSON.stringify({ measuredAt: new Date().toISOString(), quick: QUICK, machine: machineFacts(), rows }, null, 2)}\n`,
);
console.log(`results: ${RESULTS}`);
