/**
 * The meshpipe.json the deployment files ship, as meshpipe's own validation would see it.
 *
 * `kafka.tls.{ca,cert,key}` are the keys the Kafka TLS work adds to the configuration; until it knows
 * them, the shipped files are validated without them (everything else must pass as is).
 */
import { resolveCollectorConfig } from '../../collectors/config.ts';
import { kafkaSpec, type MeshpipeConfig } from '../../lib/config/meshpipe-config.ts';
import { loadBuiltinSinks, resolveSinkConfig } from '../../sinks/registry.ts';

// biome-ignore lint/suspicious/noExplicitAny: parsed JSON
export function withoutPendingKeys(json: any): any {
  if (!('tls' in kafkaSpec.fields) && json.kafka !== undefined) delete json.kafka.tls;
  return json;
}

/**
 * Validates the sections lib/ leaves open — the collector's (`collector.*`) and the built-in sinks'
 * (`sinks.<name>`) — with their own specs, as `meshpipe collect`, `meshpipe sink <name>` and `meshpipe up`
 * do. Throws naming the key.
 */
export async function checkComponentSections(
  config: Pick<MeshpipeConfig, 'collector' | 'sinks'>,
  env: Record<string, string | undefined>,
): Promise<void> {
  resolveCollectorConfig(config, env);
  for (const { definition } of await loadBuiltinSinks()) resolveSinkConfig(definition, config, { env });
}
