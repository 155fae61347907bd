/**
 * trace-linker: spans from span-assembler (meshpipe.spans.linking.v1, keyed by node) → linked spans
 * on meshpipe.spans.v1, keyed by trace id. Parents inside a process (PROCESS_CAUSALITY) are chosen
 * here, and trace ids flow down call chains, across nodes through the same topic. The design is in
 * docs/tracing.md; the handlers in linker.ts.
 */
import { defineProcessor } from '../../../processors/runtime/definition.ts';
import { linkerConfigSpec } from '../../../processors/trace-linker/config.ts';
import { processLinkingEvent, punctuateLinker, referenceStores } from './linker.ts';

export default defineProcessor<typeof linkerConfigSpec.fields, typeof referenceStores, 'linking'>({
  name: 'trace-linker',
  description:
    'Spans from span-assembler → parents inside each process and trace ids along call chains (across nodes) → meshpipe.spans.v1 keyed by trace id',
  inputs: ['linking'],
  // The linking topic is also an output: trace-id questions and answers go to other nodes' partitions.
  outputs: ['spans', 'linking'],
  config: linkerConfigSpec,
  stores: referenceStores,
  // Values stay decoded between records: a CLIENT span reads its process's candidate buckets (up to a
  // thousand servers each), and decoding them per read was over half of the linker's CPU at 8K
  // requests/s per process (bench/pipeline). Every change is followed by state.set (linker.ts).
  stateAccess: 'live',
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
