/**
 * A real HTTP webhook receiver for the alert tests: it records every request (headers, raw body, arrival
 * time), answers with whatever the test's `respond` says (a status, optional headers), can be taken down
 * (the port refuses connections) and brought back up on the same port, and counts deliveries by
 * idempotency key — the receiver-side view of "exactly once".
 */
import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedRequest {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  atMs: number;
  /** The status it was answered with. */
  status: number;
}

export type Respond = (
  request: ReceivedRequest,
  index: number,
) => { status: number; headers?: Record<string, string> };

export class WebhookReceiver {
  readonly requests: ReceivedRequest[] = [];
  respond: Respond = () => ({ status: 200 });
  #server: Server | undefined;
  #port = 0;

  get url(): string {
    return `http://127.0.0.1:${this.#port}/hook`;
  }

  get port(): number {
    return this.#port;
  }

  /** Listens (on the previous port when restarted). */
  async up(): Promise<void> {
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const request: ReceivedRequest = {
          path: req.url ?? '',
          headers: req.headers,
          body: Buffer.concat(chunks).toString('utf8'),
          atMs: Date.now(),
          status: 0,
        };
        const answer = this.respond(request, this.requests.length);
        request.status = answer.status;
        this.requests.push(request);
        res.writeHead(answer.status, answer.headers);
        res.end(answer.status >= 400 ? `refused by test (${answer.status})` : 'ok');
      });
    });
    server.keepAliveTimeout = 1_000;
    server.listen(this.#port, '127.0.0.1');
    await once(server, 'listening');
    this.#port = (server.address() as AddressInfo).port;
    this.#server = server;
  }

  /** Stops listening: connections are refused until up() again. */
  async down(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    if (server === undefined) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Requests answered 2xx. */
  accepted(): ReceivedRequest[] {
    return this.requests.filter((r) => r.status >= 200 && r.status < 300);
  }

  /** Accepted deliveries per alert idempotency key (generic payloads): exactly once means all 1. */
  deliveriesByKey(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const r of this.accepted()) {
      const body = JSON.parse(r.body) as { alerts: Array<{ idempotencyKey: string }> };
      for (const a of body.alerts) counts.set(a.idempotencyKey, (counts.get(a.idempotencyKey) ?? 0) + 1);
    }
    return counts;
  }
}
