/**
 * Writes dead letters outside a transaction: a record a component could not decode or deliver goes to
 * the dead-letter topic with the reason, its bytes unchanged (dead-letter.ts builds the record). The
 * commit-after-acknowledgement host (sinks/runtime/host.ts) has no transaction to put them in, so it
 * awaits this write — acknowledged by all in-sync replicas — before it commits the source offsets: a
 * dead letter may be written twice (crash between the two), never lost.
 */
import { ERRORS, errorMessage, MeshpipeError } from '../lib/errors.ts';
import type { KafkaProducer } from '../lib/kafka.ts';
import { codecFor } from '../schemas/codec.ts';
import type { DeadLetter } from '../schemas/types.ts';
import { deadLetterOf, type FailedItem } from './dead-letter.ts';
import type { SourceRecord } from './input-record.ts';

const codec = codecFor<DeadLetter>('dead-letter');

export class DeadLetterWriter {
  readonly #producer: KafkaProducer;
  readonly #topic: string;
  readonly #component: string;

  constructor(producer: KafkaProducer, topic: string, component: string) {
    this.#producer = producer;
    this.#topic = topic;
    this.#component = component;
  }

  /** Resolves once Kafka has them all; throws SINK_DEAD_LETTER_FAILED otherwise. */
  async write(
    letters: ReadonlyArray<{ source: SourceRecord; error: MeshpipeError; item?: FailedItem }>,
  ): Promise<void> {
    if (letters.length === 0) return;
    const now = Date.now();
    try {
      await this.#producer.send({
        topic: this.#topic,
        messages: letters.map(({ source, error, item }) => {
          const letter = deadLetterOf(this.#component, source, error, now, item);
          return { key: letter.key, value: codec.encode(letter.value), headers: letter.headers };
        }),
      });
    } catch (err) {
      throw new MeshpipeError(ERRORS.SINK_DEAD_LETTER_FAILED, [this.#topic, errorMessage(err)], {
        cause: err,
      });
    }
  }
}
