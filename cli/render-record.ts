/**
 * One-line human summaries of meshpipe records for `meshpipe tail`. Anything without a summary prints
 * as compact JSON. `--json` bypasses this entirely.
 */
import { toJsonSafe } from '../schemas/codec.ts';
import type { Anomaly, DeadLetter, L7RawEvent, MetricSample, Span } from '../schemas/types.ts';

function ms(fromNs: bigint, toNs: bigint): string {
  return `${(Number(toNs - fromNs) / 1e6).toFixed(2)}ms`;
}

function firstLine(segments: L7RawEvent['segments']): string {
  for (const s of segments) {
    if (s.kind === 'HEAD' && s.data !== null) {
      const text = s.data.toString('latin1');
      const end = text.indexOf('\r\n');
      return end === -1 ? text.slice(0, 80) : text.slice(0, Math.min(end, 120));
    }
  }
  return '';
}

const summaries: Record<string, (value: never) => string> = {
  'dev.meshpipe.v1.L7RawEvent': (e: L7RawEvent) => {
    const c = e.connection;
    const who = `${e.workload.service}(pid ${e.process.pid})`;
    const arrow = e.direction === 'INGRESS' ? '<-' : '->';
    if (e.kind !== 'DATA')
      return `${e.kind} ${who} ${c.role} ${c.localAddress}:${c.localPort} ${arrow} ${c.peerAddress}:${c.peerPort}${e.errno !== null ? ` errno=${e.errno}` : ''}`;
    return `DATA ${e.direction} ${who} ${c.role} ${c.localAddress}:${c.localPort} ${arrow} ${c.peerAddress}:${c.peerPort} ${e.byteCount}B ${JSON.stringify(firstLine(e.segments))}`;
  },
  'dev.meshpipe.v1.Span': (s: Span) =>
    `${s.kind} ${s.local.service} ${s.name} ${s.http.statusCode ?? '-'} ${ms(s.startTimeUnixNano, s.endTimeUnixNano)} peer=${s.peer.service ?? `${s.peer.address}:${s.peer.port}`} trace=${s.traceId} span=${s.spanId}${s.parentSpanId !== null ? ` parent=${s.parentSpanId}` : ''} link=${s.link.method}${s.incomplete ? ` incomplete(${s.incompleteReason})` : ''}`,
  'dev.meshpipe.v1.MetricSample': (m: MetricSample) => {
    const labels = Object.entries(m.labels)
      .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
      .join(',');
    const value =
      m.histogram !== null ? `count=${m.histogram.count} sum=${m.histogram.sum.toFixed(6)}` : String(m.value);
    return `${m.name}{${labels}} ${value} stream=${m.stream}`;
  },
  'dev.meshpipe.v1.Anomaly': (a: Anomaly) =>
    `${a.status} ${a.severity} ${a.type} ${a.service}${a.route !== null ? ` ${a.method ?? ''} ${a.route}` : ''}: ${a.summary}`,
  'dev.meshpipe.v1.DeadLetter': (d: DeadLetter) =>
    `${d.component} ${d.errorCode} ${d.sourceTopic}[${d.sourcePartition}]@${d.sourceOffset}: ${d.errorMessage}`,
};

export function summarizeRecord(schemaName: string, value: unknown): string {
  const summary = summaries[schemaName];
  return summary !== undefined ? summary(value as never) : JSON.stringify(toJsonSafe(value));
}
