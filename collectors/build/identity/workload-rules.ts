/**
 * `collector.workloads`: the user's names for what runs on the node, without code changes.
 *
 *   [{ "pod": "orders-*", "port": 8080, "workload": "orders", "service": "orders-api", "namespace": "shop" },
 *    { "comm": "nginx", "service": "edge" }]
 *
 * A rule matches when every criterion it gives holds (pod and comm are globs, port is a port the process
 * serves); the first matching rule wins. The service name shown in traces and metrics is then
 *   rule.service ?? rule.workload ?? pod ?? comm
 * (schemas/l7-raw-event.avsc, WorkloadIdentity.service).
 */
import type { WorkloadRule } from '../../config.ts';

/** A glob (`*`, `?`) as an anchored regular expression; everything else is literal. */
export function globToRegExp(glob: string): RegExp {
  let source = '';
  for (const ch of glob) {
    if (ch === '*') source += '.*';
    else if (ch === '?') source += '.';
    else source += ch.replace(/[\\^$.|+()[\]{}]/g, '\\$&');
  }
  return new RegExp(`^${source}$`, 's');
}

export interface MatchSubject {
  pod: string | null;
  comm: string | null;
  /** Whether the process serves this port (asked only by rules with a port). */
  serves(port: number): boolean;
}

export interface WorkloadNames {
  workload: string | null;
  service: string | null;
  namespace: string | null;
}

interface CompiledRule {
  pod: RegExp | null;
  comm: RegExp | null;
  port: number;
  names: WorkloadNames;
}

export class WorkloadRules {
  readonly #rules: CompiledRule[];

  constructor(rules: readonly WorkloadRule[]) {
    this.#rules = rules.map((r) => ({
      pod: r.pod === null ? null : globToRegExp(r.pod),
      comm: r.comm === null ? null : globToRegExp(r.comm),
      port: r.port,
      names: { workload: r.workload, service: r.service, namespace: r.namespace },
    }));
  }

  /** Whether some rule looks at ports (the caller then finds the process's listening ports). */
  get usesPorts(): boolean {
    return this.#rules.some((r) => r.port !== 0);
  }

  get size(): number {
    return this.#rules.length;
  }

  /** The names of the first rule that matches, or null. */
  match(subject: MatchSubject): WorkloadNames | null {
    for (const r of this.#rules) {
      if (r.pod !== null && (subject.pod === null || !r.pod.test(subject.pod))) continue;
      if (r.comm !== null && (subject.comm === null || !r.comm.test(subject.comm))) continue;
      if (r.port !== 0 && !subject.serves(r.port)) continue;
      return r.names;
    }
    return null;
  }
}
