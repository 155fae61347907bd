/**
 * @kubernetes/client-node, loaded when the Kubernetes decorator is first used instead of when the
 * collector starts. Importing it costs ~80 MiB of resident memory (its generated API models: the
 * collector's RSS after its imports was 143 MiB with it, 63 without), which a collector outside a
 * cluster, `observe`, `record` and the demo never need. Types come through `import type`, free at run
 * time; values come through here (`require` of the ES module: synchronous, so the capture pipeline
 * stays synchronous to build).
 */
import { createRequire } from 'node:module';

type ClientNode = typeof import('@kubernetes/client-node');

let loaded: ClientNode | undefined;

export function kubernetesClient(): ClientNode {
  loaded ??= createRequire(import.meta.url)('@kubernetes/client-node') as ClientNode;
  return loaded;
}
