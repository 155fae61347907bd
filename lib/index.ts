/**
 * meshpipe as a library: subscribe to its topics, decode and encode its records, read its topic contract,
 * verify the signature of its alert webhooks.
 */

export { type Codec, codecFor, decodeAny, toJsonSafe } from '../schemas/codec.ts';
export type { TopicValues } from '../schemas/topic-values.ts';
export { TOPICS, type TopicDefinition, type TopicId, topicName } from '../schemas/topics.ts';
export type * from '../schemas/types.ts';
export {
  signWebhook,
  type VerifyFailure,
  type VerifyOptions,
  type VerifyResult,
  verifyWebhookSignature,
} from '../sinks/alerts/signature.ts';
export { ERRORS, MeshpipeError } from './errors.ts';
export { type ReceivedRecord, type SubscribeOptions, type Subscription, subscribe } from './subscribe.ts';
