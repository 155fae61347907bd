/**
 * span-assembler configuration (`processors.span-assembler` in meshpipe.json). Times are wall-clock
 * milliseconds on the processor's clock; see docs/tracing.md for how they bound latency and memory.
 */
import { type InferFields, s } from '../../lib/config/spec.ts';
import { checkRouteRules } from '../shared/route-template.ts';

export const assemblerConfigSpec = s.object(
  {
    exchangeTimeoutMs: s.int({
      doc: "A request still without its response after this long (by the capturing node's clock, or idle on the processor's) becomes an incomplete span with reason `timeout`. Long-polling servers need more.",
      default: 30_000,
      min: 100,
    }),
    pairWaitMs: s.int({
      doc: 'How long a finished span waits for the other end of its TCP connection (captured by another collector, whose events may arrive later) before it is emitted without it: a SERVER span then has no TCP_CONNECTION parent, a span of either kind no peer identity.',
      default: 2_000,
      min: 0,
    }),
    clockSkewMs: s.int({
      doc: 'Largest clock difference assumed between two nodes when matching a SERVER request to the CLIENT request at the other end of the connection (on one node a fixed 20 ms covers the order in which the syscalls of the two ends return).',
      default: 500,
      min: 0,
    }),
    idleSideMs: s.int({
      doc: 'A capture side (one end of one connection) with no event for this long is flushed (open exchanges become incomplete, reason `timeout`) and forgotten: its CLOSE event was lost.',
      default: 600_000,
      min: 1_000,
    }),
    maxLogEntries: s.int({
      doc: "Most HTTP messages a capture side holds unpaired: requests waiting for their response (a deep pipeline) and responses waiting for their request; on HTTP/2, open streams. Past it the side's open exchanges are flushed as incomplete (reason `timeout`) and counted as `side_log_overflow` (on HTTP/2 only the oldest streams beyond it, counted as `h2_streams_overflowed`). (The name is from when a side kept its events.)",
      default: 512,
      min: 8,
    }),
    recentRequests: s.int({
      doc: 'Requests remembered per capture side so that the other end of the connection can name them as parents.',
      default: 64,
      min: 1,
    }),
    recentStreams: s.int({
      doc: 'The same for an HTTP/2 side, whose requests are concurrent streams (a gRPC client may have hundreds in flight on one connection): a request still waiting for its server span when more than this many came after it can no longer be its parent over the connection.',
      default: 1024,
      min: 1,
    }),
    maxHeldSpans: s.int({
      doc: 'Finished spans held per connection while they wait for the other end (pairWaitMs): past it the oldest goes out at once with what is known (counted as `held_overflow`). Bounds the state of a connection that carries thousands of calls a second (a held span is about 1.3 KB of state; the changelog takes 1 MB per connection).',
      default: 256,
      min: 1,
    }),
    routeRules: s.record(s.string({ doc: 'Replacement, e.g. `{version}`.', default: '' }), {
      doc: 'Extra route-templating rules for http.route: a regular expression matched against one whole path segment → its replacement. Tried before the built-in rules (numbers, UUIDs, long hex and base64-like ids become `{id}`).',
      default: {},
      check: checkRouteRules,
    }),
    routeMaxSegments: s.int({
      doc: 'Path segments kept in a route; longer paths end in `/{rest}` so data-built paths cannot explode route cardinality.',
      default: 12,
      min: 1,
    }),
    punctuateMs: s.int({
      doc: 'How often timeouts are checked.',
      default: 1_000,
      min: 50,
    }),
  },
  {
    doc: 'span-assembler: raw L7 events → one span per side of each HTTP exchange, client and server halves paired.',
  },
);

export type AssemblerConfig = InferFields<typeof assemblerConfigSpec.fields>;
