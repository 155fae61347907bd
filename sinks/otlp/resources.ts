/**
 * The OTLP Resource of a span: the process that owns it (schemas/span.avsc, `local`), in resource
 * semantic conventions (https://opentelemetry.io/docs/specs/semconv/resource/), plus the attributes the
 * operator adds to every resource (`sinks.otlp.resourceAttributes`, OTEL_RESOURCE_ATTRIBUTES), which
 * never override the process's own.
 *
 * A resource is encoded once per distinct attribute set and shared by all its spans: the serializer
 * groups spans into ResourceSpans by EncodedResource identity, so spans of one process travel under one
 * copy of their resource. The cache is bounded; clearing it only costs a little grouping across batches.
 */
import type { Attributes } from '@opentelemetry/api';
import type { SpanEndpoint } from '../../schemas/types.ts';
import { workloadAttribute } from '../../schemas/workload-kind.ts';
import { writeAttributes } from './attribute-encoding.ts';
import { ProtobufWriter, WIRE } from './protobuf-writer.ts';

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

/** The attributes of a process's resource: its own, then the operator's extra ones it does not have. */
export function processResourceAttributes(
  local: SpanEndpoint,
  extra: Readonly<Record<string, string>>,
): Attributes {
  const attributes = resourceAttributes(local);
  for (const key in extra) if (!(key in attributes)) attributes[key] = extra[key];
  return attributes;
}

/** A Resource message body (`repeated KeyValue attributes = 1; uint32 dropped_attributes_count = 2;`). */
export interface EncodedResource {
  readonly bytes: Buffer;
}

function sameAttributes(a: Attributes, b: Attributes): boolean {
  let count = 0;
  for (const key in a) {
    if (a[key] !== b[key]) return false;
    count++;
  }
  for (const _ in b) count--;
  return count === 0;
}

export class ResourceCache {
  /** Resources by node and pid (a process may change names: several per pid are kept apart). */
  readonly #byProcess = new Map<string, Array<{ attributes: Attributes; resource: EncodedResource }>>();
  #size = 0;
  readonly #capacity: number;
  readonly #extra: Readonly<Record<string, string>>;
  readonly #writer = new ProtobufWriter(1024);

  constructor(options: { extra?: Readonly<Record<string, string>>; capacity?: number } = {}) {
    this.#extra = options.extra ?? {};
    this.#capacity = options.capacity ?? 10_000;
  }

  get size(): number {
    return this.#size;
  }

  of(local: SpanEndpoint): EncodedResource {
    const attributes = processResourceAttributes(local, this.#extra);
    const processKey = `${local.node}\u0000${local.pid}`;
    let known = this.#byProcess.get(processKey);
    if (known !== undefined) {
      for (const entry of known) if (sameAttributes(entry.attributes, attributes)) return entry.resource;
    }
    if (this.#size >= this.#capacity) {
      this.#byProcess.clear();
      this.#size = 0;
      known = undefined;
    }
    const w = this.#writer;
    w.reset();
    writeAttributes(w, 1, attributes);
    // The OpenTelemetry serializer writes the count even when it is 0.
    w.tag(2, WIRE.varint);
    w.varint(0);
    const resource = { bytes: w.copy() };
    if (known === undefined) this.#byProcess.set(processKey, [{ attributes, resource }]);
    else known.push({ attributes, resource });
    this.#size++;
    return resource;
  }
}
