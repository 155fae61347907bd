/**
 * span-assembler: raw L7 events (meshpipe.l7.raw.v2, keyed by connection) → one span per side of each
 * HTTP exchange, client and server halves of a connection paired, on their way to the trace linker
 * (meshpipe.spans.linking.v2, keyed by node). The design is in docs/tracing.md; the handlers in
 * assembler.ts.
 */
import { avroStateCodec } from '../runtime/avro-state-codec.ts';
import { defineProcessor } from '../runtime/definition.ts';
import { jsonStateCodec } from '../runtime/state-codec.ts';
import { processRawEvent, punctuateAssembler } from './assembler.ts';
import { assemblerConfigSpec } from './config.ts';
import type { ConnState } from './state.ts';

export default defineProcessor<typeof assemblerConfigSpec.fields, ConnState, 'raw'>({
  name: 'span-assembler',
  description:
    'Raw L7 events → one span per side of each HTTP exchange (OTel HTTP conventions), TCP client/server halves paired, to the trace linker',
  inputs: ['raw'],
  outputs: ['linking'],
  config: assemblerConfigSpec,
  // Every raw event reads and rewrites its connection's entry: live state saves a decode and an encode
  // per event (each changed connection is encoded once per transaction). The handlers set every entry
  // they change (processors/runtime/definition.ts, PartitionState).
  stateAccess: 'live',
  // Binary state of a declared type (state.avsc): the JSON codec's tree of tagged values was the
  // largest single cost of the handler. A changelog written with JSON before still restores (legacy).
  stateCodec: avroStateCodec<ConnState>(new URL('./state.avsc', import.meta.url), {
    // Values written by the versions before (the Kubernetes fields, then HTTP/2 sides) still restore.
    history: [
      new URL('./history/state-first.avsc', import.meta.url),
      new URL('./history/state-k8s.avsc', import.meta.url),
    ],
    legacy: jsonStateCodec<ConnState>(),
  }),
  process(record, ctx) {
    processRawEvent(record, ctx);
  },
  punctuate: {
    intervalMs: (config) => config.punctuateMs,
    run(ctx) {
      punctuateAssembler(ctx);
    },
  },
});
