/**
 * The demo's gRPC hop (inventory.v1.Inventory, demo/services/inventory.proto) on @grpc/grpc-js, over
 * plaintext HTTP/2 (h2c) as in-mesh gRPC usually is: inventory serves it, orders calls it through one
 * channel (one HTTP/2 connection, concurrent calls as streams). Both sides behave like an
 * OpenTelemetry-instrumented app when propagating: the caller sends `traceparent` metadata, the server
 * reads it. service-kit.ts wires this into the services' faults, stats and request history.
 */
import * as grpc from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';

const PROTO = new URL('./inventory.proto', import.meta.url).pathname;

export const INVENTORY_SERVICE = 'inventory.v1.Inventory';

/** gRPC status codes the demo uses (grpc.status, as plain numbers for the admin API). */
export const GRPC_CODE = {
  OK: 0,
  NOT_FOUND: 5,
  INTERNAL: 13,
  UNAVAILABLE: 14,
} as const;

export interface ReserveRequest {
  sku: string;
  quantity: number;
}

export interface ReserveReply {
  sku: string;
  ok: boolean;
  stock: number;
}

/** An answer: a reply, or a status code with its message. */
export type GrpcOutcome<T> = { code: 0; reply: T } | { code: number; details: string };

/** The method handler the service provides: the request, the incoming traceparent metadata, the caller. */
export type ReserveHandler = (
  request: ReserveRequest,
  traceparent: string | undefined,
  peer: string,
) => Promise<GrpcOutcome<ReserveReply>>;

// biome-ignore lint/suspicious/noExplicitAny: loaded service definitions are untyped
type Any = any;

let loaded: Any;
function inventoryPackage(): Any {
  loaded ??= (grpc.loadPackageDefinition(loadSync(PROTO, { keepCase: true, defaults: true })) as Any)
    .inventory.v1;
  return loaded;
}

/** Serves Inventory on `host:port`; resolves once bound. */
export async function serveInventory(
  host: string,
  port: number,
  reserve: ReserveHandler,
): Promise<grpc.Server> {
  const server = new grpc.Server();
  server.addService(inventoryPackage().Inventory.service, {
    Reserve(call: Any, callback: Any) {
      const tp = call.metadata.get('traceparent')[0];
      reserve(call.request as ReserveRequest, typeof tp === 'string' ? tp : undefined, call.getPeer()).then(
        (outcome) => {
          if (outcome.code === GRPC_CODE.OK) callback(null, (outcome as { reply: ReserveReply }).reply);
          else callback({ code: outcome.code, details: (outcome as { details: string }).details });
        },
        (err: Error) => callback({ code: GRPC_CODE.INTERNAL, details: err.message }),
      );
    },
  });
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(`${host}:${port}`, grpc.ServerCredentials.createInsecure(), (err) =>
      err ? reject(err) : resolve(),
    ),
  );
  return server;
}

/** A client of Inventory at `target` (`host:port`): one channel, calls with a deadline. */
export class InventoryClient {
  readonly #client: Any;

  constructor(target: string) {
    this.#client = new (inventoryPackage().Inventory)(target, grpc.credentials.createInsecure());
  }

  reserve(
    request: ReserveRequest,
    traceparent: string | undefined,
    deadlineMs = 30_000,
  ): Promise<GrpcOutcome<ReserveReply>> {
    const metadata = new grpc.Metadata();
    if (traceparent !== undefined) metadata.set('traceparent', traceparent);
    return new Promise((resolve) => {
      this.#client.Reserve(
        request,
        metadata,
        { deadline: Date.now() + deadlineMs },
        (err: grpc.ServiceError | null, reply: ReserveReply) =>
          resolve(err === null ? { code: 0, reply } : { code: err.code, details: err.details }),
      );
    });
  }

  close(): void {
    this.#client.close();
  }
}

/**
 * The HTTP status a gateway would answer for a gRPC code (the mapping of grpc-gateway and Google APIs),
 * so gRPC calls count in the demo's status classes beside HTTP requests.
 */
export function httpStatusOf(code: number): number {
  switch (code) {
    case 0:
      return 200;
    case 3:
    case 9:
    case 11:
      return 400;
    case 5:
      return 404;
    case 7:
      return 403;
    case 16:
      return 401;
    case 4:
      return 504;
    case 14:
      return 503;
    default:
      return 500;
  }
}
