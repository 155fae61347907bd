/**
 * `meshpipe/testing`: unit tests for processors, in memory, with the machinery the Kafka host uses
 * (state codec, output checks, Avro encoding) and a clock the test moves — what `meshpipe processor new`
 * scaffolds its test with.
 */

export {
  type Emitted,
  type ProcessInput,
  type ProcessorTest,
  type TestProcessorOptions,
  testProcessor,
} from '../processors/runtime/test-context.ts';
export { type RawEventOptions, rawEvent } from '../processors/runtime/test-events.ts';
