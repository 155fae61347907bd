/**
 * The values of `WorkloadIdentity.workloadKind` / `SpanEndpoint.workloadKind` (schemas/l7-raw-event.avsc,
 * schemas/span.avsc): the Kubernetes controllers a pod is named after, each with its OpenTelemetry
 * resource attribute `k8s.<kind>.name` (https://opentelemetry.io/docs/specs/semconv/resource/k8s/).
 * One list for the collector that sets them and the processors and sinks that turn them into attributes
 * and labels.
 */
export const WORKLOAD_KINDS = [
  'Deployment',
  'ReplicaSet',
  'StatefulSet',
  'DaemonSet',
  'Job',
  'CronJob',
] as const;
export type WorkloadKind = (typeof WORKLOAD_KINDS)[number];

const KINDS: ReadonlySet<string> = new Set(WORKLOAD_KINDS);

/** `k8s.deployment.name`, `k8s.statefulset.name`... for a workload kind; null for anything else. */
export function workloadAttribute(kind: string | null): string | null {
  return kind !== null && KINDS.has(kind) ? `k8s.${kind.toLowerCase()}.name` : null;
}
