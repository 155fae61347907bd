/**
 * The admin API every demo service serves on its own port (ADMIN_PORT), apart from its traffic so that
 * reading stats or changing a fault neither shows up in the service's numbers nor waits behind an
 * injected latency.
 *
 *   GET /stats            ServiceStats
 *   GET /requests?limit=n RequestRecord[] (most recent last, at most REQUEST_HISTORY)
 *   GET /fault            Fault
 *   PUT /fault            body: Partial<Fault> → the new Fault (400 with an error code when invalid)
 */
import type { Fault } from '../fault.ts';
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
