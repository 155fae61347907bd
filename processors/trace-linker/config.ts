/**
 * trace-linker configuration (`processors.trace-linker` in meshpipe.json). Times are wall-clock
 * milliseconds on the processor's clock (the record clock on `meshpipe replay`). They bound how late a
 * span may be, and so the memory the linker needs; docs/tracing.md explains the trade.
 */
import { type InferFields, s } from '../../lib/config/spec.ts';

export const linkerConfigSpec = s.object(
  {
    causalityWaitMs: s.int({
      doc: "How long a CLIENT span waits for the SERVER spans of its process that could have caused it (they end after it, so they usually arrive after it) before its parent is chosen among those that arrived. Must exceed span-assembler's pairWaitMs plus its punctuateMs: a SERVER span whose caller is not captured (an edge service) leaves the assembler only after that wait.",
      default: 5_000,
      min: 0,
    }),
    resolveTimeoutMs: s.int({
      doc: "How long a span waits for its parent's trace id (the parent still waiting for its own parent, or on another node) before it is emitted as the root of a trace of its own, with link confidence 0 and the parent it could not reach in `meshpipe.link.unresolved_parent`.",
      default: 10_000,
      min: 0,
    }),
    retainMs: s.int({
      doc: 'How long a resolved span is remembered: for CLIENT spans of its process that arrive late, and for trace-id questions from other nodes.',
      default: 30_000,
      min: 0,
    }),
    maxServerSpanMs: s.int({
      doc: 'Longest SERVER span looked back over when searching the one that contains a CLIENT call (the span assembler’s exchange timeout is a good value).',
      default: 60_000,
      min: 1,
    }),
    maxPendingSpans: s.int({
      doc: 'Most spans held per partition while they wait. Past it the oldest are decided at once with what is known (counted as `forced_by_memory`): memory stays bounded under any load, linking quality degrades first.',
      default: 50_000,
      min: 10,
    }),
    punctuateMs: s.int({ doc: 'How often waits are checked.', default: 500, min: 50 }),
  },
  {
    doc: 'trace-linker: parents inside a process (PROCESS_CAUSALITY) and trace ids along call chains, across nodes; final spans to meshpipe.spans.v2 keyed by trace id.',
  },
);

export type LinkerConfig = InferFields<typeof linkerConfigSpec.fields>;
