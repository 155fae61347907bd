/**
 * The admin API every demo service serves on its own Unix socket, apart from its traffic so that
 * reading stats or changing a fault neither shows up in the service's numbers nor waits behind an
 * injected latency. Served by lib/http/server.ts like every meshpipe endpoint; requests are checked
 * against the JSON schemas below before a handler runs.
 *
 *   GET /stats            ServiceStats
 *   GET /requests?limit=n RequestRecord[] (most recent last, at most REQUEST_HISTORY)
 *   GET /fault            Fault
 *   PUT /fault            body: Partial<Fault> → the new Fault
 *
 * A bad request is a 400 with {"error": {"code", "message"}}: MESHPIPE_ERR_DEMO_BAD_FAULT for a fault
 * change, MESHPIPE_ERR_DEMO_BAD_OPTION for a bad query.
 */
import type { FastifyPluginCallback, FastifySchema } from 'fastify';
import { ERRORS, MeshpipeError } from '../../lib/errors.ts';
import { type Fault, MAX_LATENCY_MS } from '../fault.ts';
import type { ServiceName } from '../layout.ts';

export const REQUEST_HISTORY = 200;

export interface ServiceStats {
  service: ServiceName;
  pid: number;
  propagate: boolean;
  fault: Fault;
  /** Requests answered since start. */
  requests: number;
  /** Responses by status class: '2xx', '4xx', '5xx'. */
  statusClasses: Record<string, number>;
  /** Of the 5xx, those the fault injection produced. */
  injectedErrors: number;
  /** TCP connections accepted since start, and still open: keep-alive shows as few of them. */
  connections: { accepted: number; open: number };
  /** Calls this service made to its upstream, and how many failed (5xx or no answer). */
  upstream: { calls: number; errors: number };
  /** Server-side duration over the last 1,000 requests. */
  latency: { p50Ms: number | null; p99Ms: number | null };
}

export interface RequestRecord {
  /** Epoch ms when the request arrived. */
  at: number;
  method: string;
  path: string;
  status: number;
  durationMs: number;
  /** The caller's address:port: the same port again means the same (reused) connection. */
  remote: string;
  /** The traceparent header that arrived, or null. */
  traceparent: string | null;
  /** Traceparent headers (gRPC: metadata) sent on this request's upstream calls. */
  outgoing: string[];
  /**
   * A gRPC call (`path` is `/inventory.v1.Inventory/Reserve`): its status code; `status` is then the HTTP
   * status a gateway would map it to, so gRPC calls count in the status classes beside HTTP requests.
   */
  grpcStatus?: number;
}

export interface AdminHandlers {
  stats(): ServiceStats;
  /** The last `limit` requests, oldest first. */
  requests(limit: number): RequestRecord[];
  fault(): Fault;
  /** Applies a change (checked again by mergeFault: ranges the schema cannot express) and returns the fault. */
  setFault(change: Partial<Fault>): Fault;
}

const FAULT_FIELDS = {
  latencyMs: { type: 'number', minimum: 0, maximum: MAX_LATENCY_MS },
  jitterMs: { type: 'number', minimum: 0, maximum: MAX_LATENCY_MS },
  errorRate: { type: 'number', minimum: 0, maximum: 1 },
} as const;

const FAULT_SCHEMA = {
  type: 'object',
  properties: FAULT_FIELDS,
  required: ['latencyMs', 'jitterMs', 'errorRate'],
  additionalProperties: false,
} as const;

export const ADMIN_SCHEMAS = {
  requests: {
    querystring: {
      type: 'object',
      properties: { limit: { type: 'integer', minimum: 1, maximum: REQUEST_HISTORY } },
      additionalProperties: false,
    },
  },
  getFault: { response: { 200: FAULT_SCHEMA } },
  putFault: {
    // Partial<Fault>: any of the fields, nothing else, numbers in range.
    body: { type: 'object', properties: FAULT_FIELDS, additionalProperties: false },
    response: { 200: FAULT_SCHEMA },
  },
} as const satisfies Record<string, FastifySchema>;

/** The admin routes as a fastify plugin (lib/http/server.ts serves it). */
export function adminRoutes(handlers: AdminHandlers): FastifyPluginCallback {
  return (app, _opts, done) => {
    // A request the schemas refuse gets the demo's own codes: a bad fault like one the CLI refuses.
    app.setSchemaErrorFormatter((errors, where) => {
      const why = errors
        .map((e) => `${e.instancePath.slice(1) || where} ${e.message ?? 'is invalid'}`)
        .join('; ');
      return where === 'body'
        ? new MeshpipeError(ERRORS.DEMO_BAD_FAULT, ['(request body)', why])
        : new MeshpipeError(ERRORS.DEMO_BAD_OPTION, [where, why]);
    });
    app.get('/stats', async () => handlers.stats());
    app.get<{ Querystring: { limit?: number } }>(
      '/requests',
      { schema: ADMIN_SCHEMAS.requests },
      async (request) => handlers.requests(request.query.limit ?? REQUEST_HISTORY),
    );
    app.get('/fault', { schema: ADMIN_SCHEMAS.getFault }, async () => handlers.fault());
    app.put<{ Body: Partial<Fault> }>('/fault', { schema: ADMIN_SCHEMAS.putFault }, async (request) =>
      handlers.setFault(request.body),
    );
    done();
  };
}
