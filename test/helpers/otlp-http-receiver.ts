/**
 * A real OTLP/HTTP trace receiver for tests (https://opentelemetry.io/docs/specs/otlp/#otlphttp): a
 * node:http server taking `POST /v1/traces` with an `application/x-protobuf` ExportTraceServiceRequest,
 * gzip-encoded or not, decoded with the official .proto files (testkit/otlp-receiver.ts), answered with an
 * empty ExportTraceServiceResponse. Like the gRPC receiver it can misbehave as real ones do: answer an
 * HTTP status (429/503 with Retry-After, 400, 413...) for the next n requests, or go down and come back
 * on the same port.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { gunzipSync } from 'node:zlib';
import { decodeExportRequest, type ReceivedRequest, type ReceivedSpan } from '../../testkit/otlp-receiver.ts';

export interface HttpFailure {
  status: number;
  /** Answer this many requests with `status` (default: until `succeed()`). */
  times?: number;
  /** A Retry-After header, seconds. */
  retryAfterS?: number;
}

export interface HttpReceivedRequest extends ReceivedRequest {
  headers: IncomingHttpHeaders;
  path: string;
}

export class OtlpHttpReceiver {
  readonly requests: HttpReceivedRequest[] = [];
  /** Requests answered with a failure status. */
  refused = 0;
  #port = 0;
  #server: Server | undefined;
  #failure: HttpFailure | undefined;

  static async start(): Promise<OtlpHttpReceiver> {
    const receiver = new OtlpHttpReceiver();
    await receiver.restart();
    return receiver;
  }

  get port(): number {
    return this.#port;
  }

  /** The base URL (the sink appends /v1/traces). */
  get endpoint(): string {
    return `http://127.0.0.1:${this.#port}`;
  }

  spans(): ReceivedSpan[] {
    return this.requests.flatMap((r) => r.resourceSpans.flatMap((rs) => rs.spans));
  }

  fail(failure: HttpFailure): void {
    this.#failure = { ...failure };
  }

  succeed(): void {
    this.#failure = undefined;
  }

  async restart(): Promise<void> {
    if (this.#server !== undefined) return;
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const failure = this.#failure;
        if (failure !== undefined) {
          if (failure.times !== undefined && --failure.times <= 0) this.#failure = undefined;
          this.refused++;
          res.writeHead(failure.status, {
            'Content-Type': 'text/plain',
            ...(failure.retryAfterS === undefined ? {} : { 'Retry-After': String(failure.retryAfterS) }),
          });
          res.end(`test receiver answers ${failure.status}`);
          return;
        }
        if (req.method !== 'POST' || req.url !== '/v1/traces') {
          res.writeHead(404).end();
          return;
        }
        if (req.headers['content-type'] !== 'application/x-protobuf') {
          res.writeHead(415).end();
          return;
        }
        let body = Buffer.concat(chunks);
        if (req.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
        const { request } = decodeExportRequest(body);
        this.requests.push({ ...request, headers: req.headers, path: req.url });
        res.writeHead(200, { 'Content-Type': 'application/x-protobuf' }).end();
      });
    });
    this.#port = await new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.#port, '127.0.0.1', () => {
        const address = server.address();
        resolve(typeof address === 'object' && address !== null ? address.port : 0);
      });
    });
    this.#server = server;
  }

  /** Goes down: closes the port and every connection. */
  async stop(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    if (server === undefined) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  close(): Promise<void> {
    return this.stop();
  }
}
