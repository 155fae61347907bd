/**
 * The OTLP Resource of a span: the process that owns it (schemas/span.avsc, `local`), in resource
 * semantic conventions (https://opentelemetry.io/docs/specs/semconv/resource/).
 *
 * The OTLP serializer groups spans into ResourceSpans by Resource *object identity*, so spans of the
 * same process must share one Resource instance, or every span would travel with its own copy of the
 * resource. The cache hands out one instance per distinct attribute set; it is bounded, and clearing it
 * only costs a little grouping efficiency across batches, never correctness.
 */
import type { Attributes } from '@opentelemetry/api';
import { type Resource, resourceFromAttributes } from '@opentelemetry/resources';
import type { SpanEndpoint } from '../../schemas/types.ts';
import { workloadAttribute } from '../../schemas/workload-kind.ts';

export function resourceAttributes(local: SpanEndpoint): Attributes {
  const attributes: Attributes = {
    'service.name': local.service,
    'host.name': local.node,
    'process.pid': local.pid,
    'process.command': local.comm,
  };
  if (local.namespace !== null) attributes['service.namespace'] = local.namespace;
  if (local.pod !== null) attributes['k8s.pod.name'] = local.pod;
  // Named by the Kubernetes API server (a pod UID is known): the k8s.* attributes the OTel
  // k8sattributes processor sets, and service.instance.id as the semantic conventions derive it there.
  if (local.podUid !== null) {
    attributes['k8s.pod.uid'] = local.podUid;
    attributes['k8s.node.name'] = local.node;
    if (local.namespace !== null) attributes['k8s.namespace.name'] = local.namespace;
    if (local.container !== null) attributes['k8s.container.name'] = local.container;
    const kind = workloadAttribute(local.workloadKind);
    if (local.workload !== null && kind !== null) attributes[kind] = local.workload;
    attributes['service.instance.id'] = [local.namespace, local.pod, local.container]
      .filter((part) => part !== null)
      .join('.');
  }
  if (local.exe !== null) attributes['process.executable.path'] = local.exe;
  if (local.containerId !== null) attributes['container.id'] = local.containerId;
  return attributes;
}

export class ResourceCache {
  readonly #byKey = new Map<string, Resource>();
  readonly #capacity: number;

  constructor(capacity = 10_000) {
    this.#capacity = capacity;
  }

  get size(): number {
    return this.#byKey.size;
  }

  of(local: SpanEndpoint): Resource {
    const attributes = resourceAttributes(local);
    const key = JSON.stringify(attributes);
    let resource = this.#byKey.get(key);
    if (resource === undefined) {
      if (this.#byKey.size >= this.#capacity) this.#byKey.clear();
      resource = resourceFromAttributes(attributes);
      this.#byKey.set(key, resource);
    }
    return resource;
  }
}
