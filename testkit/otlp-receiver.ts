/**
 * A real OTLP/gRPC trace receiver for tests: a @grpc/grpc-js server implementing
 * opentelemetry.proto.collector.trace.v1.TraceService/Export from the official .proto files
 * (testkit/proto/opentelemetry-proto, vendored), decoding every ExportTraceServiceRequest with
 * @grpc/proto-loader. Timestamps are decoded as exact BigInts, ids as lowercase hex.
 *
 * It can be told to misbehave the ways real receivers do: answer a status code (UNAVAILABLE,
 * RESOURCE_EXHAUSTED with a RetryInfo delay, INVALID_ARGUMENT...) for the next n requests, answer
 * slowly, or go down and come back on the same port.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import {
  type GrpcObject,
  loadPackageDefinition,
  Metadata,
  Server,
  ServerCredentials,
  type ServerUnaryCall,
  type ServiceClientConstructor,
  type sendUnaryData,
  status,
} from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';

const PROTO_ROOT = fileURLToPath(new URL('./proto/opentelemetry-proto/', import.meta.url));

export type AttributeValue = string | number | boolean | bigint | AttributeValue[] | null;

export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  /** '' for a root span (proto3 bytes default). */
  parentSpanId: string;
  traceState: string;
  name: string;
  /** e.g. SPAN_KIND_SERVER. */
  kind: string;
  startTimeUnixNano: bigint;
  endTimeUnixNano: bigint;
  attributes: Record<string, AttributeValue>;
  /** The protobuf oneof case of each attribute: stringValue, intValue, doubleValue... */
  attributeTypes: Record<string, string>;
  status: { code: string; message: string };
  flags: number;
  /** Attributes of the Resource of the ResourceSpans the span came in. */
  resource: Record<string, AttributeValue>;
  scope: { name: string; version: string };
}

export interface ReceivedRequest {
  resourceSpans: Array<{ resource: Record<string, AttributeValue>; spans: ReceivedSpan[] }>;
  /** Request metadata (headers), first value of each key. */
  metadata: Record<string, string>;
}

export interface FailureMode {
  code: status;
  /** Answer this many requests with `code` (default: until `succeed()`). */
  times?: number;
  /** A RetryInfo delay to attach (grpc-status-details-bin), ms. */
  retryAfterMs?: number;
  details?: string;
}

export interface ReceiverTls {
  cert: Buffer;
  key: Buffer;
  /** CA of client certificates: set to require mutual TLS. */
  clientCa?: Buffer;
}

// --- proto types as proto-loader decodes them (longs and enums as strings, bytes as Buffers) ---------
interface AnyValueMsg {
  value?: string;
  stringValue?: string;
  boolValue?: boolean;
  intValue?: string;
  doubleValue?: number;
  arrayValue?: { values?: AnyValueMsg[] };
  bytesValue?: Buffer;
}
interface KeyValueMsg {
  key: string;
  value?: AnyValueMsg;
}
interface SpanMsg {
  traceId: Buffer;
  spanId: Buffer;
  parentSpanId: Buffer;
  traceState: string;
  name: string;
  kind: string;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes?: KeyValueMsg[];
  status?: { code?: string; message?: string };
  flags?: number;
}
interface ExportRequestMsg {
  resourceSpans?: Array<{
    resource?: { attributes?: KeyValueMsg[] };
    scopeSpans?: Array<{ scope?: { name?: string; version?: string }; spans?: SpanMsg[] }>;
  }>;
}

function anyValue(v: AnyValueMsg | undefined): AttributeValue {
  switch (v?.value) {
    case 'stringValue':
      return v.stringValue ?? '';
    case 'boolValue':
      return v.boolValue ?? false;
    case 'intValue': {
      const n = BigInt(v.intValue ?? '0');
      return n >= BigInt(Number.MIN_SAFE_INTEGER) && n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n;
    }
    case 'doubleValue':
      return v.doubleValue ?? 0;
    case 'arrayValue':
      return (v.arrayValue?.values ?? []).map(anyValue);
    case 'bytesValue':
      return v.bytesValue?.toString('hex') ?? '';
    default:
      return null;
  }
}

function attributesOf(list: KeyValueMsg[] | undefined): Record<string, AttributeValue> {
  const out: Record<string, AttributeValue> = {};
  for (const kv of list ?? []) out[kv.key] = anyValue(kv.value);
  return out;
}

function decodeRequest(request: ExportRequestMsg, metadata: Metadata): ReceivedRequest {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(metadata.getMap()))
    headers[k] = Buffer.isBuffer(v) ? v.toString('hex') : v;
  return {
    metadata: headers,
    resourceSpans: (request.resourceSpans ?? []).map((rs) => {
      const resource = attributesOf(rs.resource?.attributes);
      const spans: ReceivedSpan[] = [];
      for (const ss of rs.scopeSpans ?? []) {
        for (const s of ss.spans ?? []) {
          const attributeTypes: Record<string, string> = {};
          for (const kv of s.attributes ?? []) attributeTypes[kv.key] = kv.value?.value ?? 'none';
          spans.push({
            traceId: s.traceId.toString('hex'),
            spanId: s.spanId.toString('hex'),
            parentSpanId: s.parentSpanId.toString('hex'),
            traceState: s.traceState,
            name: s.name,
            kind: s.kind,
            startTimeUnixNano: BigInt(s.startTimeUnixNano),
            endTimeUnixNano: BigInt(s.endTimeUnixNano),
            attributes: attributesOf(s.attributes),
            attributeTypes,
            status: { code: s.status?.code ?? 'STATUS_CODE_UNSET', message: s.status?.message ?? '' },
            flags: s.flags ?? 0,
            resource,
            scope: { name: ss.scope?.name ?? '', version: ss.scope?.version ?? '' },
          });
        }
      }
      return { resource, spans };
    }),
  };
}

// --- google.rpc.Status with a RetryInfo, the way a throttling receiver sends it ---------------------
function varint(n: number): Buffer {
  const bytes: number[] = [];
  let v = n;
  while (v > 0x7f) {
    bytes.push((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  bytes.push(v);
  return Buffer.from(bytes);
}
function field(number: number, payload: Buffer): Buffer {
  return Buffer.concat([varint((number << 3) | 2), varint(payload.length), payload]);
}
function varintField(number: number, value: number): Buffer {
  return Buffer.concat([varint(number << 3), varint(value)]);
}

/** A serialized google.rpc.Status carrying RetryInfo{retry_delay}. */
export function statusWithRetryInfo(code: number, message: string, retryAfterMs: number): Buffer {
  const duration = Buffer.concat([
    varintField(1, Math.floor(retryAfterMs / 1000)),
    varintField(2, (retryAfterMs % 1000) * 1_000_000),
  ]);
  const retryInfo = field(1, duration);
  const any = Buffer.concat([
    field(1, Buffer.from('type.googleapis.com/google.rpc.RetryInfo')),
    field(2, retryInfo),
  ]);
  return Buffer.concat([varintField(1, code), field(2, Buffer.from(message)), field(3, any)]);
}

let traceService: ServiceClientConstructor | undefined;
function service(): ServiceClientConstructor {
  if (traceService === undefined) {
    const definition = loadSync('opentelemetry/proto/collector/trace/v1/trace_service.proto', {
      includeDirs: [PROTO_ROOT],
      longs: String,
      enums: String,
      bytes: Buffer,
      defaults: true,
      oneofs: true,
    });
    const root = loadPackageDefinition(definition) as GrpcObject;
    const pkg = (
      (((root.opentelemetry as GrpcObject).proto as GrpcObject).collector as GrpcObject).trace as GrpcObject
    ).v1 as GrpcObject;
    traceService = pkg.TraceService as ServiceClientConstructor;
  }
  return traceService;
}

/**
 * Decodes a serialized ExportTraceServiceRequest with the official .proto files: the raw message as
 * proto-loader gives it (longs as strings, bytes as Buffers, defaults filled in), and the request as the
 * receiver records it.
 */
export function decodeExportRequest(bytes: Uint8Array): { message: unknown; request: ReceivedRequest } {
  const method = service().service.Export!;
  const message = method.requestDeserialize(Buffer.from(bytes)) as ExportRequestMsg;
  return { message, request: decodeRequest(message, new Metadata()) };
}

export class OtlpReceiver {
  readonly requests: ReceivedRequest[] = [];
  /** Requests answered with a failure status (not recorded in `requests`). */
  refused = 0;
  #port = 0;
  #server: Server | undefined;
  #failure: FailureMode | undefined;
  #delayMs = 0;
  readonly #tls: ReceiverTls | undefined;

  private constructor(tls: ReceiverTls | undefined) {
    this.#tls = tls;
  }

  static async start(options: { tls?: ReceiverTls } = {}): Promise<OtlpReceiver> {
    const receiver = new OtlpReceiver(options.tls);
    await receiver.restart();
    return receiver;
  }

  get port(): number {
    return this.#port;
  }

  /** The endpoint to configure a sink with. */
  get endpoint(): string {
    return `${this.#tls === undefined ? 'http' : 'https'}://127.0.0.1:${this.#port}`;
  }

  get running(): boolean {
    return this.#server !== undefined;
  }

  /** Every span received, in arrival order (duplicates included). */
  spans(): ReceivedSpan[] {
    return this.requests.flatMap((r) => r.resourceSpans.flatMap((rs) => rs.spans));
  }

  /** Answers requests with a failure status, `times` times or until succeed(). */
  fail(mode: FailureMode): void {
    this.#failure = { ...mode };
  }

  succeed(): void {
    this.#failure = undefined;
  }

  /** Delays every answer (a slow receiver). */
  slow(delayMs: number): void {
    this.#delayMs = delayMs;
  }

  #export(call: ServerUnaryCall<ExportRequestMsg, unknown>, callback: sendUnaryData<unknown>): void {
    void (async () => {
      if (this.#delayMs > 0) await sleep(this.#delayMs);
      const failure = this.#failure;
      if (failure !== undefined) {
        if (failure.times !== undefined && --failure.times <= 0) this.#failure = undefined;
        this.refused++;
        const metadata = new Metadata();
        const details = failure.details ?? `test receiver answers ${status[failure.code]}`;
        if (failure.retryAfterMs !== undefined)
          metadata.set(
            'grpc-status-details-bin',
            statusWithRetryInfo(failure.code, details, failure.retryAfterMs),
          );
        callback({ code: failure.code, details, metadata });
        return;
      }
      this.requests.push(decodeRequest(call.request, call.metadata));
      callback(null, {});
    })();
  }

  /** Goes down: closes the port and every connection, like a receiver that crashed. */
  async stop(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    server?.forceShutdown();
  }

  /** (Re)starts listening, on the same port as before when there was one. */
  async restart(): Promise<void> {
    if (this.#server !== undefined) return;
    const server = new Server();
    server.addService(service().service, {
      Export: (call: ServerUnaryCall<ExportRequestMsg, unknown>, callback: sendUnaryData<unknown>) =>
        this.#export(call, callback),
    });
    const credentials =
      this.#tls === undefined
        ? ServerCredentials.createInsecure()
        : ServerCredentials.createSsl(
            this.#tls.clientCa ?? null,
            [{ private_key: this.#tls.key, cert_chain: this.#tls.cert }],
            this.#tls.clientCa !== undefined,
          );
    this.#port = await new Promise<number>((resolve, reject) =>
      server.bindAsync(`127.0.0.1:${this.#port}`, credentials, (err, port) =>
        err === null ? resolve(port) : reject(err),
      ),
    );
    this.#server = server;
  }

  async close(): Promise<void> {
    await this.stop();
  }
}
