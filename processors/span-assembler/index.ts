/**
 * span-assembler: raw L7 events (meshpipe.l7.raw.v2, keyed by connection) → one span per side of each
 * HTTP exchange, client and server halves of a connection paired, on their way to the trace linker
 * (meshpipe.spans.linking.v2, keyed by node). The design is in docs/tracing.md; the handlers in
 * assembler.ts.
 */
import { defineProcessor } from '../runtime/definition.ts';
import { processRawEvent, punctuateAssembler } from './assembler.ts';
import { assemblerConfigSpec } from './config.ts';
import { assemblerStores, legacyAssemblerState } from './state.ts';

export default defineProcessor<typeof assemblerConfigSpec.fields, typeof assemblerStores, 'raw'>({
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
  // One entry per connection (state.ts); a changelog of the releases before stores still restores.
  stores: assemblerStores,
  legacyState: legacyAssemblerState,
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
