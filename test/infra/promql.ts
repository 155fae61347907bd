/**
 * The PromQL of meshpipe's dashboards and rules, for the tests that check it: every expression with its
 * origin, and Grafana's variables replaced by values a plain Prometheus understands.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const INFRA = fileURLToPath(new URL('../../infra/', import.meta.url));
export const DASHBOARD_DIR = `${INFRA}grafana/dashboards/`;
export const RULES_DIR = `${INFRA}prometheus/rules/`;

export interface Expression {
  /** Where it comes from: `<file> / <panel title> / <refId>` or `<file> / <rule name>`. */
  origin: string;
  expr: string;
  /** Alerts fire only when something is wrong: their expression returning data is not expected. */
  alert: boolean;
}

type Json = Record<string, unknown>;

export function dashboards(): Array<{ file: string; json: Json }> {
  return readdirSync(DASHBOARD_DIR)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((file) => ({ file, json: JSON.parse(readFileSync(DASHBOARD_DIR + file, 'utf8')) as Json }));
}

export function panelsOf(dashboard: Json): Json[] {
  const out: Json[] = [];
  for (const p of (dashboard.panels as Json[]) ?? []) {
    out.push(p);
    for (const inner of (p.panels as Json[] | undefined) ?? []) out.push(inner);
  }
  return out;
}

/** Grafana's built-in and meshpipe's dashboard variables → values for a plain query. */
export function substitute(expr: string, values: { service: string; route?: string }): string {
  return expr
    .replaceAll('$__rate_interval', '1m')
    .replaceAll('$__range', '5m')
    .replaceAll('$__interval', '15s')
    .replaceAll('$service', values.service)
    .replaceAll('$route', values.route ?? '.*');
}

export function dashboardExpressions(values: { service: string; route?: string }): Expression[] {
  const out: Expression[] = [];
  for (const { file, json } of dashboards()) {
    for (const p of panelsOf(json)) {
      for (const t of (p.targets as Json[] | undefined) ?? []) {
        out.push({
          origin: `${file} / ${p.title as string} / ${t.refId as string}`,
          expr: substitute(t.expr as string, values),
          alert: false,
        });
      }
    }
    for (const v of ((json.templating as Json).list as Json[]) ?? []) {
      if (v.type !== 'query') continue;
      // label_values(<selector>, <label>) is Grafana's; its selector is the PromQL part.
      const m = /^label_values\((.*),\s*[a-z_]+\)$/.exec((v.query as Json).query as string);
      if (m !== null)
        out.push({
          origin: `${file} / variable ${v.name as string}`,
          expr: substitute(m[1]!, values),
          alert: false,
        });
    }
  }
  return out;
}

/** Rule expressions, parsed from the YAML without a YAML library: `expr:` scalars and `|` blocks. */
export function ruleExpressions(): Expression[] {
  const out: Expression[] = [];
  for (const file of readdirSync(RULES_DIR)
    .filter((f) => f.endsWith('.yml'))
    .sort()) {
    const lines = readFileSync(RULES_DIR + file, 'utf8').split('\n');
    let name = '';
    let alert = false;
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!;
      const head = /^\s*- (record|alert): (\S+)/.exec(line);
      if (head !== null) {
        name = head[2]!;
        alert = head[1] === 'alert';
        continue;
      }
      const expr = /^(\s*)expr: (.*)$/.exec(line);
      if (expr === null) continue;
      let text = expr[2]!;
      if (text === '|') {
        const indent = expr[1]!.length;
        const body: string[] = [];
        while (i + 1 < lines.length && (lines[i + 1]!.trim() === '' || lines[i + 1]!.search(/\S/) > indent))
          body.push(lines[++i]!.trim());
        text = body.join(' ').trim();
      }
      out.push({ origin: `${file} / ${name}`, expr: text, alert });
    }
  }
  return out;
}
