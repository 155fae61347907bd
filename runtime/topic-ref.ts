/**
 * How a processor or sink names a topic it reads or writes: one of meshpipe's by id (`'spans'`), or a
 * definition of its own (a user processor's output topic). Resolved under the topic prefix when the host
 * starts (schemas/topics.ts `topicName`).
 */
import type { TopicValues } from '../schemas/topic-values.ts';
import { TOPICS, type TopicDefinition, type TopicId } from '../schemas/topics.ts';

/** A topic a processor or sink reads or writes: one of meshpipe's (by id) or its own definition. */
export type TopicRef = TopicId | TopicDefinition;

/** The value type of records on a topic. */
export type ValueOf<T extends TopicRef> = T extends TopicId ? TopicValues[T] : unknown;

export function topicDefinitionOf(ref: TopicRef): TopicDefinition {
  return typeof ref === 'string' ? TOPICS[ref] : ref;
}
