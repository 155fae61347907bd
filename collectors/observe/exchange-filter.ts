/**
 * `meshpipe observe --filter key=value`: which exchanges to show.
 *
 *   pod=<glob>       the pod at either end (locally: the `ip netns` name)
 *   service=<glob>   the service at this end
 *   process=<glob>   the command name at this end, or its pid
 *   port=<n>         a port at either end (also narrows the capture in the kernel)
 *   method=<name>    request method, case-insensitive
 *   status=<code>    a status code (404) or class (5xx)
 *
 * Filters on the same key are alternatives (`status=4xx --filter status=5xx`); different keys must all
 * hold (`pod=orders --filter status=5xx`), like `hubble observe`.
 */
import { ERRORS, MeshpipeError } from '../../lib/errors.ts';
import { globToRegExp } from '../build/identity/workload-rules.ts';
import type { ExchangeRow } from './exchange-view.ts';

export const FILTER_KEYS = ['pod', 'service', 'process', 'port', 'method', 'status'] as const;
export type FilterKey = (typeof FILTER_KEYS)[number];

type Test = (row: ExchangeRow) => boolean;

export interface ExchangeFilter {
  matches(row: ExchangeRow): boolean;
  /** Ports to capture in the kernel (empty: all), from `port=` filters. */
  readonly ports: number[];
}

function bad(expr: string, why: string): MeshpipeError {
  return new MeshpipeError(ERRORS.COLLECTOR_BAD_FILTER, [expr, why]);
}

function compileOne(expr: string): { key: FilterKey; test: Test; port?: number } {
  const eq = expr.indexOf('=');
  if (eq <= 0 || eq === expr.length - 1) throw bad(expr, 'expected key=value');
  const key = expr.slice(0, eq).trim().toLowerCase();
  const value = expr.slice(eq + 1).trim();
  switch (key) {
    case 'pod': {
      const re = globToRegExp(value);
      return {
        key,
        test: (r) => (r.pod !== null && re.test(r.pod)) || (r.peer.pod !== null && re.test(r.peer.pod)),
      };
    }
    case 'service': {
      const re = globToRegExp(value);
      return { key, test: (r) => re.test(r.service) };
    }
    case 'process': {
      if (/^\d+$/.test(value)) {
        const pid = Number(value);
        return { key, test: (r) => r.process.pid === pid };
      }
      const re = globToRegExp(value);
      return { key, test: (r) => re.test(r.process.comm) };
    }
    case 'port': {
      const port = Number(value);
      if (!Number.isInteger(port) || port < 1 || port > 65535) throw bad(expr, 'a port is 1-65535');
      return { key, port, test: (r) => r.local.port === port || r.peer.port === port };
    }
    case 'method': {
      const method = value.toUpperCase();
      if (!/^[A-Z]+$/.test(method)) throw bad(expr, 'a method is letters, e.g. GET');
      return { key, test: (r) => r.method === method };
    }
    case 'status': {
      const cls = /^([1-5])xx$/i.exec(value);
      if (cls !== null) {
        const first = Number(cls[1]);
        return { key, test: (r) => r.status !== null && Math.floor(r.status / 100) === first };
      }
      if (/^[1-5]\d\d$/.test(value)) {
        const code = Number(value);
        return { key, test: (r) => r.status === code };
      }
      throw bad(expr, 'a status is a code (404) or a class (5xx)');
    }
    default:
      throw bad(expr, `unknown key "${key}"; keys: ${FILTER_KEYS.join(', ')}`);
  }
}

export function compileExchangeFilter(expressions: readonly string[]): ExchangeFilter {
  const byKey = new Map<FilterKey, Test[]>();
  const ports: number[] = [];
  for (const expr of expressions) {
    const { key, test, port } = compileOne(expr);
    byKey.set(key, [...(byKey.get(key) ?? []), test]);
    if (port !== undefined) ports.push(port);
  }
  const groups = [...byKey.values()];
  return {
    ports,
    matches: (row) => groups.every((tests) => tests.some((t) => t(row))),
  };
}
