/**
 * OpenTelemetry → Prometheus names, by the OpenTelemetry specification's rules
 * (https://opentelemetry.io/docs/specs/otel/compatibility/prometheus_and_openmetrics/#otlp-metric-points-to-prometheus),
 * as Prometheus' own OTLP translator applies them (github.com/prometheus/otlptranslator):
 *
 *   metric name   characters outside [a-zA-Z0-9_:] become `_`, runs of `_` collapse, a leading digit
 *                 gets `_`; the unit is appended as a word unless the name already has it
 *                 (`s` → `seconds`, `By` → `bytes`, `X/Y` → `X_per_Y`, `{...}` annotations dropped,
 *                 `1` → `ratio` for gauges only); counters end in `_total`.
 *   label name    characters outside [a-zA-Z0-9_] become `_`; a leading digit gets `key_`, a single
 *                 leading `_` gets `key`; two attributes that collide (`a.b` and `a_b`) share one label
 *                 whose values are joined with `;`, in the order of the original keys.
 *
 *   http.server.request.duration (s, histogram)   → http_server_request_duration_seconds
 *   traces.service_graph.request ({request}, counter) → traces_service_graph_request_total
 *   http.request.method                              → http_request_method
 */
import type { MetricType } from '../../schemas/types.ts';

/** UCUM units with a Prometheus word (the specification's table). */
const UNITS: Readonly<Record<string, string>> = {
  d: 'days',
  h: 'hours',
  min: 'minutes',
  s: 'seconds',
  ms: 'milliseconds',
  us: 'microseconds',
  ns: 'nanoseconds',
  By: 'bytes',
  KiBy: 'kibibytes',
  MiBy: 'mebibytes',
  GiBy: 'gibibytes',
  TiBy: 'tibibytes',
  KBy: 'kilobytes',
  MBy: 'megabytes',
  GBy: 'gigabytes',
  TBy: 'terabytes',
  m: 'meters',
  V: 'volts',
  A: 'amperes',
  J: 'joules',
  W: 'watts',
  g: 'grams',
  Cel: 'celsius',
  Hz: 'hertz',
  '%': 'percent',
};

/** Units of the `per` part of `X/Y`. */
const PER_UNITS: Readonly<Record<string, string>> = {
  s: 'second',
  m: 'minute',
  h: 'hour',
  d: 'day',
  w: 'week',
  mo: 'month',
  y: 'year',
};

function words(text: string): string {
  return text
    .replace(/[^a-zA-Z0-9_]/g, '_')
    .replace(/_+/g, '_')
    .replace(/^_|_$/g, '');
}

/** The unit word(s) a metric name gets, or '' (e.g. `{request}`, or `1` on a counter). */
export function unitSuffix(unit: string, type: MetricType): string {
  const stripped = unit.replace(/\{[^}]*\}/g, '').trim();
  if (stripped === '') return '';
  if (stripped === '1') return type === 'GAUGE' ? 'ratio' : '';
  const slash = stripped.indexOf('/');
  const main = slash === -1 ? stripped : stripped.slice(0, slash);
  const per = slash === -1 ? '' : stripped.slice(slash + 1);
  const mainWord = main === '' ? '' : (UNITS[main] ?? words(main));
  const perWord = per === '' ? '' : (PER_UNITS[per] ?? words(per));
  if (perWord === '') return mainWord;
  return mainWord === '' ? `per_${perWord}` : `${mainWord}_per_${perWord}`;
}

/** The Prometheus metric name of an OpenTelemetry metric. */
export function prometheusName(name: string, unit: string, type: MetricType): string {
  let base = name.replace(/[^a-zA-Z0-9_:]/g, '_').replace(/_+/g, '_');
  if (/^[0-9]/.test(base)) base = `_${base}`;
  let tokens = base.split('_').filter((t) => t !== '');
  const suffix = unitSuffix(unit, type);
  if (suffix !== '' && !base.endsWith(`_${suffix}`) && !tokens.includes(suffix))
    tokens.push(...suffix.split('_'));
  if (type === 'COUNTER') {
    tokens = tokens.filter((t) => t !== 'total');
    tokens.push('total');
  }
  const out = tokens.join('_');
  return base.startsWith('_') ? `_${out}` : out;
}

/** The Prometheus label name of an attribute. */
export function prometheusLabel(attribute: string): string {
  let label = attribute.replace(/[^a-zA-Z0-9_]/g, '_');
  if (/^[0-9]/.test(label)) label = `key_${label}`;
  else if (label.startsWith('_') && !label.startsWith('__')) label = `key${label}`;
  return label;
}

/** A label set with Prometheus names; colliding attributes are joined with `;` (sorted by attribute). */
export function prometheusLabels(attributes: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of Object.keys(attributes).sort()) {
    const value = attributes[key]!;
    // An empty value is no label at all in Prometheus.
    if (value === '') continue;
    const label = prometheusLabel(key);
    out[label] = label in out ? `${out[label]};${value}` : value;
  }
  return out;
}
