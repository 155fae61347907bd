/**
 * meshpipe as a library (`import ... from 'meshpipe'`): subscribe to its topics, decode and encode their
 * records, read the topic contract, write processors and sinks (the same contracts the built-in ones
 * use, run by `meshpipe process <path>` and `meshpipe sink <path>`), and verify the signature of its
 * alert webhooks. Test helpers for processors are in `meshpipe/testing` (testing.ts).
 *
 * sdk/ is the public SDK: its own modules (subscribe, recording, webhook verification) import only lib/
 * and schemas/; this file also re-exports the processor and sink contracts from processors/ and sinks/, a layer below
 * sdk/ (CONTRIBUTING.md#layers). package.json's "exports" points here (dist/sdk/index.js).
 */

export {
  type Fields,
  type Infer,
  type InferFields,
  type ObjectSpec,
  type SpecBase,
  s,
} from '../lib/config/spec.ts';
export { ERRORS, MeshpipeError } from '../lib/errors.ts';
export { signWebhook } from '../lib/webhook-signature.ts';
export {
  defineProcessor,
  type InputRecord,
  type LegacyEntry,
  type PartitionState,
  type ProcessorContext,
  type ProcessorDefinition,
  type Stores,
  type TopicRef,
} from '../processors/runtime/definition.ts';
export { avroStore, jsonStore, type StoreType } from '../processors/runtime/store-types.ts';
export { type Codec, codecFor, decodeAny, toJsonSafe } from '../schemas/codec.ts';
export type { TopicValues } from '../schemas/topic-values.ts';
export { TOPICS, type TopicDefinition, type TopicId, topicName } from '../schemas/topics.ts';
export type * from '../schemas/types.ts';
export {
  defineSink,
  listenSpec,
  type SinkContext,
  type SinkDefinition,
  type SinkFlag,
  type SinkHostConfig,
  sinkHostFields,
} from '../sinks/runtime/definition.ts';
export {
  type Exporter,
  type ExportResult,
  failed,
  retryable,
  SUCCESS,
} from '../sinks/runtime/exporter.ts';
export { type ReceivedRecord, type SubscribeOptions, type Subscription, subscribe } from './subscribe.ts';
export {
  type VerifyFailure,
  type VerifyOptions,
  type VerifyResult,
  verifyWebhookSignature,
} from './verify-webhook.ts';
