/**
 * trace-linker: spans from span-assembler (meshpipe.spans.linking.v2, keyed by node) → linked spans
 * on meshpipe.spans.v2, keyed by trace id. Parents inside a process (PROCESS_CAUSALITY) are chosen
 * here, and trace ids flow down call chains, across nodes through the same topic. The design is in
 * docs/tracing.md; the handlers in linker.ts.
 */
import { defineProcessor } from '../runtime/definition.ts';
import { linkerConfigSpec } from './config.ts';
import { processLinkingEvent, punctuateLinker } from './linker.ts';
import { legacyLinkerState, linkerStores } from './state-codec.ts';

export default defineProcessor<typeof linkerConfigSpec.fields, typeof linkerStores, 'linking'>({
  name: 'trace-linker',
  description:
    'Spans from span-assembler → parents inside each process and trace ids along call chains (across nodes) → meshpipe.spans.v2 keyed by trace id',
  inputs: ['linking'],
  // The linking topic is also an output: trace-id questions and answers go to other nodes' partitions.
  outputs: ['spans', 'linking'],
  config: linkerConfigSpec,
  // Values stay decoded between records: a CLIENT span reads its process's candidate buckets (up to a
  // thousand servers each), and decoding them per read was over half of the linker's CPU at 8K
  // requests/s per process (bench/pipeline). Every change is followed by a set (linker.ts).
  stateAccess: 'live',
  // Binary values of a declared type (state.avsc, state-codec.ts); a changelog written by the releases
  // before stores (Avro, or JSON before that) still restores.
  stores: linkerStores,
  legacyState: legacyLinkerState,
  process(record, ctx) {
    processLinkingEvent(record, ctx);
  },
  punctuate: {
    intervalMs: (config) => config.punctuateMs,
    run(ctx) {
      punctuateLinker(ctx);
    },
  },
});
