/**
 * The meshpipe.json the deployment files ship, as meshpipe's own validation would see it.
 *
 * `kafka.tls.{ca,cert,key}` are the keys the Kafka TLS work adds to the configuration; until it knows
 * them, the shipped files are validated without them (everything else must pass as is).
 */
import { kafkaSpec } from '../../lib/config/meshpipe-config.ts';

// biome-ignore lint/suspicious/noExplicitAny: parsed JSON
export function withoutPendingKeys(json: any): any {
  if (!('tls' in kafkaSpec.fields) && json.kafka !== undefined) delete json.kafka.tls;
  return json;
}
