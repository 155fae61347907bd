/**
 * The exposition, written by hand rather than with prom-client: prom-client's metrics accumulate
 * observations made in this process (`inc`, `observe`), while this sink republishes totals computed
 * upstream — cumulative values summed over streams, histogram bucket counts, exemplars chosen by
 * red-metrics — and neither `Counter` nor `Histogram` can be set to such values. Two formats:
 *
 *   Prometheus text 0.0.4      https://prometheus.io/docs/instrumenting/exposition_formats/
 *   OpenMetrics 1.0.0          https://github.com/prometheus/OpenMetrics/blob/main/specification/OpenMetrics.md
 *                              the same samples plus `# UNIT`, exemplars (`trace_id`, `span_id`, the
 *                              names Grafana links traces by) and `# EOF`.
 *
 * Numbers follow each format's usual writers (Go's client_golang): `le="1"` in text, `le="1.0"` in
 * OpenMetrics, which Prometheus treats as the same series only from 3.0 on — a Prometheus negotiates
 * OpenMetrics once and keeps it.
 */
import type { Exemplar } from '../../schemas/types.ts';
import type { Family, Series, SeriesStore } from './series-store.ts';

export type Format = 'text' | 'openmetrics';

export const CONTENT_TYPES: Record<Format, string> = {
  text: 'text/plain; version=0.0.4; charset=utf-8',
  openmetrics: 'application/openmetrics-text; version=1.0.0; charset=utf-8',
};

function formatNumber(value: number, format: Format): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Number.POSITIVE_INFINITY) return '+Inf';
  if (value === Number.NEGATIVE_INFINITY) return '-Inf';
  const text = String(value);
  return format === 'openmetrics' && Number.isInteger(value) && !/e/i.test(text) ? `${text}.0` : text;
}

function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function escapeHelp(help: string, format: Format): string {
  const text = help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
  return format === 'openmetrics' ? text.replace(/"/g, '\\"') : text;
}

function labelText(labels: Record<string, string>, extra?: [string, string]): string {
  const parts = Object.keys(labels)
    .sort()
    .map((k) => `${k}="${escapeLabelValue(labels[k]!)}"`);
  if (extra !== undefined) parts.push(`${extra[0]}="${escapeLabelValue(extra[1])}"`);
  return parts.length === 0 ? '' : `{${parts.join(',')}}`;
}

function exemplarText(x: Exemplar): string {
  const seconds = Number(x.timeUnixNano / 1_000_000n) / 1000;
  return ` # {trace_id="${escapeLabelValue(x.traceId)}",span_id="${escapeLabelValue(x.spanId)}"} ${formatNumber(x.value, 'openmetrics')} ${seconds.toFixed(3)}`;
}

/** For each bucket, the newest exemplar whose value falls in it (OpenMetrics allows one per line). */
function exemplarsByBucket(
  bounds: readonly number[],
  exemplars: readonly Exemplar[],
): Array<Exemplar | undefined> {
  const out = new Array<Exemplar | undefined>(bounds.length + 1);
  for (const x of exemplars) {
    let i = 0;
    while (i < bounds.length && x.value > bounds[i]!) i++;
    const current = out[i];
    if (current === undefined || x.timeUnixNano >= current.timeUnixNano) out[i] = x;
  }
  return out;
}

export interface ExtraFamily {
  name: string;
  type: 'COUNTER' | 'GAUGE';
  help: string;
  samples: Array<{ labels: Record<string, string>; value: number }>;
}

function familyHeader(name: string, type: string, help: string, unit: string, format: Format): string {
  let out = '';
  if (format === 'openmetrics') {
    const familyName = type === 'counter' ? name.replace(/_total$/, '') : name;
    out += `# TYPE ${familyName} ${type}\n`;
    // OpenMetrics requires a family with a UNIT to end in that unit.
    if (unit !== '' && familyName.endsWith(`_${unit}`)) out += `# UNIT ${familyName} ${unit}\n`;
    out += `# HELP ${familyName} ${escapeHelp(help, format)}\n`;
  } else {
    out += `# HELP ${name} ${escapeHelp(help, format)}\n`;
    out += `# TYPE ${name} ${type}\n`;
  }
  return out;
}

function seriesLines(
  store: SeriesStore,
  family: Family,
  series: Series,
  format: Format,
  nowMs: number,
  exemplars: boolean,
): string {
  if (family.type !== 'HISTOGRAM') {
    const value = store.value(family, series, nowMs);
    if (value === undefined) return '';
    return `${family.name}${labelText(series.labels)} ${formatNumber(value, format)}\n`;
  }
  const h = store.histogram(series);
  if (h === undefined) return '';
  const byBucket = exemplars && format === 'openmetrics' ? exemplarsByBucket(h.bounds, series.exemplars) : [];
  let out = '';
  let cumulative = 0;
  for (let i = 0; i <= h.bounds.length; i++) {
    cumulative += h.counts[i] ?? 0;
    const le = i < h.bounds.length ? formatNumber(h.bounds[i]!, format) : '+Inf';
    const x = byBucket[i];
    out += `${family.name}_bucket${labelText(series.labels, ['le', le])} ${String(cumulative)}${x === undefined ? '' : exemplarText(x)}\n`;
  }
  out += `${family.name}_sum${labelText(series.labels)} ${formatNumber(h.sum, format)}\n`;
  out += `${family.name}_count${labelText(series.labels)} ${String(h.count)}\n`;
  return out;
}

/** The whole exposition: every family of the store, then the sink's own families. */
export function renderExposition(
  store: SeriesStore,
  format: Format,
  options: { nowMs: number; exemplars: boolean; extra?: readonly ExtraFamily[] },
): string {
  const chunks: string[] = [];
  for (const family of store.families()) {
    let body = '';
    for (const series of family.series.values()) {
      body += seriesLines(store, family, series, format, options.nowMs, options.exemplars);
    }
    if (body === '') continue;
    chunks.push(
      familyHeader(family.name, family.type.toLowerCase(), family.help, family.unit, format) + body,
    );
  }
  for (const extra of options.extra ?? []) {
    let body = '';
    for (const s of extra.samples)
      body += `${extra.name}${labelText(s.labels)} ${formatNumber(s.value, format)}\n`;
    chunks.push(familyHeader(extra.name, extra.type.toLowerCase(), extra.help, '', format) + body);
  }
  if (format === 'openmetrics') chunks.push('# EOF\n');
  return chunks.join('');
}

/**
 * Content negotiation: OpenMetrics when the client asks for it at least as much as for the text format
 * (Prometheus' scrape Accept header lists `application/openmetrics-text;version=1.0.0` first).
 */
export function negotiateFormat(accept: string | undefined): Format {
  if (accept === undefined) return 'text';
  let om = -1;
  let text = -1;
  for (const part of accept.split(',')) {
    const [type, ...params] = part.trim().split(';');
    const qParam = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    const q = qParam === undefined ? 1 : Number(qParam.slice(2));
    const t = type?.trim().toLowerCase();
    if (t === 'application/openmetrics-text') om = Math.max(om, q);
    else if (t === 'text/plain' || t === '*/*') text = Math.max(text, t === '*/*' ? Math.min(q, 0.01) : q);
  }
  return om > 0 && om >= text ? 'openmetrics' : 'text';
}
