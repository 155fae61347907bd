/**
 * What the three demo services share, so that each service file is only its routes:
 *
 *   incoming request ─► fault (delay, maybe 500/503) ─► route ─► upstream calls through one keep-alive
 *                                                                  Agent (fixed pool), traceparent per call
 *                                                                  (orders: a gRPC call too, grpc-inventory.ts)
 *   incoming gRPC call (inventory) ─► fault ─► handler
 *   admin socket ─► stats, recent requests, fault changes at runtime (admin-api.ts)
 *
 * A service is started by demo/topology.ts as `ip netns exec <ns> node demo/services/<name>.ts [flags]`,
 * prints one JSON line `{"type":"ready",...}` on stdout once both ports listen, and with --watch-parent
 * exits when its stdin closes — so a parent that dies, even by SIGKILL, takes its services with it.
 */
import { rmSync } from 'node:fs';
import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { errorMessage } from '../../lib/errors.ts';
import { startHttpServer } from '../../lib/http/server.ts';
import { createLogger } from '../../lib/logger.ts';
import { type Fault, faultDelayMs, injectError, mergeFault, NO_FAULT, parseFaultSetting } from '../fault.ts';
import { LatencyWindow } from '../latency-window.ts';
import { SERVICE_PORT, type ServiceName } from '../layout.ts';
import { outgoingTraceparent, type ServerSpan, serverSpan } from '../trace-context.ts';
import { adminRoutes, REQUEST_HISTORY, type RequestRecord, type ServiceStats } from './admin-api.ts';
import {
  GRPC_CODE,
  type GrpcOutcome,
  httpStatusOf,
  INVENTORY_SERVICE,
  InventoryClient,
  type ReserveReply,
  type ReserveRequest,
  serveInventory,
} from './grpc-inventory.ts';

export interface UpstreamResponse {
  status: number;
  body: Buffer;
}

/** An upstream call that failed (no answer, or an answer the caller cannot use): becomes a 502. */
export class UpstreamError extends Error {
  override name = 'UpstreamError';
}

export interface RequestContext {
  /** Regex groups of the matched route. */
  params: string[];
  url: URL;
  /** Calls the upstream service and buffers the answer (traceparent added when propagating). */
  call(method: string, path: string, body?: Buffer): Promise<UpstreamResponse>;
  /** Calls the upstream service and hands over the response stream, for pass-through. */
  open(method: string, path: string): Promise<http.IncomingMessage>;
  /** Calls inventory.v1.Inventory/Reserve on the gRPC upstream (traceparent metadata when propagating). */
  reserve(request: ReserveRequest): Promise<GrpcOutcome<ReserveReply>>;
}

export interface Route {
  method: string;
  path: RegExp;
  handle(req: http.IncomingMessage, res: http.ServerResponse, ctx: RequestContext): Promise<void>;
}

export interface ServiceOptions {
  /** CPU work per request, in hash rounds (inventory). */
  work: number;
}

export interface ServiceDefinition {
  name: ServiceName;
  routes(options: ServiceOptions): Route[];
  /** The gRPC method the service serves on `--grpc-port` (inventory), without faults: the kit adds them. */
  reserve?(options: ServiceOptions): (request: ReserveRequest) => Promise<GrpcOutcome<ReserveReply>>;
}

const MAX_BODY = 1 << 20;

export function sendJson(res: http.ServerResponse, status: number, value: unknown): void {
  const body = Buffer.from(JSON.stringify(value));
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': body.length });
  res.end(body);
}

export async function readBody(req: http.IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY) throw new Error(`request body over ${MAX_BODY} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

async function readAll(res: http.IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of res as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks);
}

function parseServiceArgs(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    options: {
      host: { type: 'string', default: '0.0.0.0' },
      port: { type: 'string', default: String(SERVICE_PORT) },
      'admin-socket': { type: 'string' },
      upstream: { type: 'string' },
      'grpc-port': { type: 'string' },
      'grpc-upstream': { type: 'string' },
      propagation: { type: 'string', default: 'w3c' },
      pool: { type: 'string', default: '4' },
      fault: { type: 'string', multiple: true, default: [] },
      work: { type: 'string', default: '1000' },
      'watch-parent': { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.propagation !== 'w3c' && values.propagation !== 'none')
    throw new Error(`--propagation is w3c or none, not ${values.propagation}`);
  if (values['admin-socket'] === undefined) throw new Error('--admin-socket <path> is required');
  let fault: Fault = NO_FAULT;
  for (const setting of values.fault) fault = mergeFault(fault, parseFaultSetting(setting));
  return {
    host: values.host,
    port: Number(values.port),
    adminSocket: values['admin-socket'],
    upstream: values.upstream,
    grpcPort: values['grpc-port'] === undefined ? undefined : Number(values['grpc-port']),
    grpcUpstream: values['grpc-upstream'],
    propagate: values.propagation === 'w3c',
    pool: Number(values.pool),
    fault,
    work: Number(values.work),
    watchParent: values['watch-parent'],
  };
}

function matchRoute(routes: Route[], method: string, pathname: string) {
  for (const route of routes) {
    if (route.method !== method) continue;
    const m = route.path.exec(pathname);
    if (m !== null) return { route, params: m.slice(1) };
  }
  return undefined;
}

function listen(server: http.Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

export async function runService(definition: ServiceDefinition, argv = process.argv.slice(2)): Promise<void> {
  const opts = parseServiceArgs(argv);
  const { name } = definition;
  const logger = createLogger({ component: `demo/${name}` });
  if (opts.watchParent) {
    process.stdin.on('end', () => process.exit(0));
    process.stdin.resume();
    process.stdout.on('error', () => process.exit(0));
  }

  let fault = opts.fault;
  const latency = new LatencyWindow();
  const history: RequestRecord[] = [];
  const counts = {
    requests: 0,
    statusClasses: {} as Record<string, number>,
    injectedErrors: 0,
    accepted: 0,
    open: 0,
    upstreamCalls: 0,
    upstreamErrors: 0,
  };
  // A fixed small pool: calls queue for a free socket instead of opening more, so connections are reused
  // the way a production HTTP client with keep-alive reuses them.
  const agent = new http.Agent({ keepAlive: true, maxSockets: opts.pool, maxFreeSockets: opts.pool });
  const routes = definition.routes({ work: opts.work });
  const grpcUpstream = opts.grpcUpstream === undefined ? undefined : new InventoryClient(opts.grpcUpstream);

  /** A finished request, HTTP or gRPC: latency, counts by status class, history. */
  function done(record: RequestRecord, started: number, status: number): void {
    record.status = status;
    record.durationMs = Math.round((performance.now() - started) * 100) / 100;
    latency.add(record.durationMs);
    counts.requests++;
    const cls = `${Math.floor(status / 100)}xx`;
    counts.statusClasses[cls] = (counts.statusClasses[cls] ?? 0) + 1;
    history.push(record);
    if (history.length > REQUEST_HISTORY) history.shift();
  }

  async function reserveUpstream(
    span: ServerSpan | undefined,
    record: RequestRecord,
    request: ReserveRequest,
  ): Promise<GrpcOutcome<ReserveReply>> {
    if (grpcUpstream === undefined) throw new Error(`${name} has no gRPC upstream`);
    let traceparent: string | undefined;
    if (span !== undefined) {
      traceparent = outgoingTraceparent(span);
      record.outgoing.push(traceparent);
    }
    counts.upstreamCalls++;
    const outcome = await grpcUpstream.reserve(request, traceparent);
    if (httpStatusOf(outcome.code) >= 500) counts.upstreamErrors++;
    return outcome;
  }

  /** An incoming gRPC call: the same fault, counts and history as an HTTP request. */
  async function handleGrpc(
    reserve: (request: ReserveRequest) => Promise<GrpcOutcome<ReserveReply>>,
    request: ReserveRequest,
    incoming: string | undefined,
    peer: string,
  ): Promise<GrpcOutcome<ReserveReply>> {
    const started = performance.now();
    const record: RequestRecord = {
      at: Date.now(),
      method: 'POST',
      path: `/${INVENTORY_SERVICE}/Reserve`,
      status: 0,
      durationMs: 0,
      remote: peer,
      traceparent: incoming ?? null,
      outgoing: [],
    };
    let outcome: GrpcOutcome<ReserveReply>;
    try {
      const delay = faultDelayMs(fault);
      if (delay > 0) await sleep(delay);
      if (injectError(fault)) {
        counts.injectedErrors++;
        const code = Math.random() < 0.5 ? GRPC_CODE.INTERNAL : GRPC_CODE.UNAVAILABLE;
        outcome = { code, details: `injected fault (${name})` };
      } else {
        outcome = await reserve(request);
      }
    } catch (err) {
      logger.error({ err }, 'gRPC call failed');
      outcome = { code: GRPC_CODE.INTERNAL, details: errorMessage(err) };
    }
    record.grpcStatus = outcome.code;
    done(record, started, httpStatusOf(outcome.code));
    return outcome;
  }

  function upstreamRequest(
    method: string,
    path: string,
    span: ServerSpan | undefined,
    record: RequestRecord,
    body?: Buffer,
  ): Promise<http.IncomingMessage> {
    if (opts.upstream === undefined) throw new Error(`${name} has no upstream`);
    const headers: http.OutgoingHttpHeaders = {};
    if (span !== undefined) {
      const traceparent = outgoingTraceparent(span);
      headers.traceparent = traceparent;
      record.outgoing.push(traceparent);
    }
    if (body !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = body.length;
    }
    counts.upstreamCalls++;
    return new Promise((resolve, reject) => {
      const req = http.request(
        `${opts.upstream}${path}`,
        { method, agent, headers, timeout: 30_000 },
        (res) => {
          if ((res.statusCode ?? 0) >= 500) counts.upstreamErrors++;
          resolve(res);
        },
      );
      req.on('timeout', () => req.destroy(new Error('no answer within 30 s')));
      req.on('error', (err) => {
        counts.upstreamErrors++;
        reject(new UpstreamError(`upstream ${opts.upstream} failed: ${err.message}`));
      });
      req.end(body);
    });
  }

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const started = performance.now();
    const incoming = req.headers.traceparent;
    const record: RequestRecord = {
      at: Date.now(),
      method: req.method ?? '',
      path: req.url ?? '',
      status: 0,
      durationMs: 0,
      remote: `${req.socket.remoteAddress}:${req.socket.remotePort}`,
      traceparent: typeof incoming === 'string' ? incoming : null,
      outgoing: [],
    };
    res.once('close', () => done(record, started, res.statusCode));
    try {
      const delay = faultDelayMs(fault);
      if (delay > 0) await sleep(delay);
      if (injectError(fault)) {
        counts.injectedErrors++;
        req.resume();
        sendJson(res, Math.random() < 0.5 ? 500 : 503, { error: 'injected fault', service: name });
        return;
      }
      const url = new URL(req.url ?? '/', 'http://service');
      const match = matchRoute(routes, req.method ?? '', url.pathname);
      if (match === undefined) {
        req.resume();
        sendJson(res, 404, { error: 'no such route', method: req.method, path: url.pathname });
        return;
      }
      // Propagation mode behaves like an OpenTelemetry SDK; the other mode like an uninstrumented app.
      const span = opts.propagate
        ? serverSpan(typeof incoming === 'string' ? incoming : undefined)
        : undefined;
      const ctx: RequestContext = {
        params: match.params,
        url,
        async call(method, path, body) {
          const upstream = await upstreamRequest(method, path, span, record, body);
          return { status: upstream.statusCode ?? 0, body: await readAll(upstream) };
        },
        open: (method, path) => upstreamRequest(method, path, span, record),
        reserve: (request) => reserveUpstream(span, record, request),
      };
      await match.route.handle(req, res, ctx);
    } catch (err) {
      if (!(err instanceof UpstreamError)) logger.error({ err, path: req.url }, 'request failed');
      if (!res.headersSent)
        sendJson(res, err instanceof UpstreamError ? 502 : 500, { error: errorMessage(err) });
      else res.destroy(err as Error);
    }
  }

  // Idle keep-alive connections stay open a minute (Node's default is 5 s), so a steady but slow load
  // still reuses them instead of reconnecting between requests.
  const server = http.createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
    void handle(req, res);
  });
  server.on('connection', (socket) => {
    counts.accepted++;
    counts.open++;
    socket.once('close', () => counts.open--);
  });

  const stats = (): ServiceStats => ({
    service: name,
    pid: process.pid,
    propagate: opts.propagate,
    fault,
    requests: counts.requests,
    statusClasses: { ...counts.statusClasses },
    injectedErrors: counts.injectedErrors,
    connections: { accepted: counts.accepted, open: counts.open },
    upstream: { calls: counts.upstreamCalls, errors: counts.upstreamErrors },
    latency: latency.summary(),
  });

  await listen(server, opts.port, opts.host);
  if (opts.grpcPort !== undefined) {
    if (definition.reserve === undefined) throw new Error(`${name} serves no gRPC (--grpc-port)`);
    const reserve = definition.reserve({ work: opts.work });
    await serveInventory(opts.host, opts.grpcPort, (request, incoming, peer) =>
      handleGrpc(reserve, request, incoming, peer),
    );
  }
  // A socket left by a demo that was SIGKILLed would make listen() fail with EADDRINUSE.
  rmSync(opts.adminSocket, { force: true });
  await startHttpServer({
    listen: { path: opts.adminSocket },
    routes: adminRoutes({
      stats,
      requests: (limit) => history.slice(-limit),
      fault: () => fault,
      setFault(change) {
        fault = mergeFault(fault, change);
        logger.info({ fault }, 'fault changed');
        return fault;
      },
    }),
    logger,
  });
  process.on('exit', () => rmSync(opts.adminSocket, { force: true }));
  process.stdout.write(
    `${JSON.stringify({ type: 'ready', service: name, pid: process.pid, port: opts.port, adminSocket: opts.adminSocket })}\n`,
  );
}
