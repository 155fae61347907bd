/**
 * The collector's Kafka client: lib/kafka.ts's, with one kafkajs warning turned down to debug.
 *
 * kafkajs warns "Limiting retries for the idempotent producer may invalidate EoS guarantees" for every
 * idempotent producer with bounded retries. The collector bounds them on purpose (a request must not
 * hold the buffer forever while Kafka is down), and after a request fails for good it counts the
 * events as dropped and replaces the producer, so no sequence gap ever reaches the broker: the warning
 * describes a risk this design does not run, and repeating it on every reconnect would only teach
 * operators to ignore warnings.
 */
import type { Kafka } from 'kafkajs';
import type { MeshpipeConfig } from '../lib/config/meshpipe-config.ts';
import { createKafka, kafkaOptionsFrom } from '../lib/kafka.ts';
import type { Logger } from '../lib/logger.ts';

const BOUNDED_RETRIES_WARNING = 'Limiting retries for the idempotent producer may invalidate EoS guarantees';

function quieted(logger: Logger): Logger {
  return new Proxy<Logger>(logger, {
    get(target, property, receiver) {
      if (property === 'child') {
        return (...args: Parameters<Logger['child']>) => quieted(target.child(...args) as unknown as Logger);
      }
      if (property === 'warn') {
        return (obj: unknown, message?: string, ...rest: unknown[]) =>
          message === BOUNDED_RETRIES_WARNING
            ? target.debug(obj as object, message)
            : target.warn(obj as object, message, ...rest);
      }
      return Reflect.get(target, property, receiver);
    },
  });
}

/**
 * The client's own retries (connections, metadata) are bounded like the producer's
 * (`collector.producer.retries`): otherwise a request sent while Kafka is down waits out the client's
 * longer schedule before it can fail, and the buffer behind it cannot drain or be accounted for.
 */
export function createCollectorKafka(config: MeshpipeConfig, logger: Logger, brokers?: string[]): Kafka {
  return createKafka({
    ...kafkaOptionsFrom(config, quieted(logger), brokers),
    retries: config.collector.producer.retries,
  });
}
