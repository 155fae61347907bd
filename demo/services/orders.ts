/**
 * orders: looks orders up and takes new ones, asking inventory about every SKU it touches.
 *
 *   GET  /orders/:id     200 with stock per item (one inventory call per item), 404 for unknown ids
 *   POST /orders         body {sku, quantity}: 201, 400 for a bad body, 422 for an unknown SKU; the stock
 *                        check over HTTP, then the reservation over gRPC (inventory.v1.Inventory/Reserve)
 *   GET  /orders?limit=n the first n orders, streamed chunked (one chunk per order)
 */
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { findOrder, ORDER_COUNT, orderSummary } from './catalog.ts';
import { GRPC_CODE } from './grpc-inventory.ts';
import { type Route, readBody, runService, sendJson, UpstreamError } from './service-kit.ts';

let nextOrderId = ORDER_COUNT + 1;

function parseNewOrder(body: Buffer): { sku: string; quantity: number } | undefined {
  try {
    const value = JSON.parse(body.toString('utf8')) as { sku?: unknown; quantity?: unknown };
    if (typeof value.sku !== 'string' || !Number.isInteger(value.quantity) || (value.quantity as number) < 1)
      return undefined;
    return { sku: value.sku, quantity: value.quantity as number };
  } catch {
    return undefined;
  }
}

const routes: Route[] = [
  {
    method: 'GET',
    path: /^\/orders\/(\d+)$/,
    async handle(_req, res, ctx) {
      const order = findOrder(Number(ctx.params[0]));
      if (order === undefined)
        return sendJson(res, 404, { error: 'no such order', id: Number(ctx.params[0]) });
      const items = [];
      // One call per item, in sequence: the fan-out a naive service does, and a few spans per trace.
      for (const item of order.items) {
        const stock = await ctx.call('GET', `/inventory/${item.sku}`);
        if (stock.status !== 200)
          throw new UpstreamError(`inventory answered ${stock.status} for ${item.sku}`);
        items.push({
          ...item,
          inStock: (JSON.parse(stock.body.toString('utf8')) as { stock: number }).stock,
        });
      }
      sendJson(res, 200, { ...order, items });
    },
  },
  {
    method: 'POST',
    path: /^\/orders$/,
    async handle(req, res, ctx) {
      const wanted = parseNewOrder(await readBody(req));
      if (wanted === undefined)
        return sendJson(res, 400, { error: 'expected {"sku": string, "quantity": positive integer}' });
      const stock = await ctx.call('GET', `/inventory/${encodeURIComponent(wanted.sku)}`);
      if (stock.status === 404) return sendJson(res, 422, { error: 'unknown sku', sku: wanted.sku });
      if (stock.status !== 200) throw new UpstreamError(`inventory answered ${stock.status}`);
      const reserved = await ctx.reserve(wanted);
      if (reserved.code === GRPC_CODE.NOT_FOUND)
        return sendJson(res, 422, { error: 'unknown sku', sku: wanted.sku });
      if (reserved.code !== GRPC_CODE.OK)
        throw new UpstreamError(`inventory Reserve failed: ${(reserved as { details: string }).details}`);
      sendJson(res, 201, { id: nextOrderId++, status: 'placed', items: [wanted] });
    },
  },
  {
    method: 'GET',
    path: /^\/orders$/,
    async handle(_req, res, ctx) {
      const limit = Math.min(ORDER_COUNT, Math.max(1, Number(ctx.url.searchParams.get('limit')) || 20));
      // No content-length, so Node frames the body with Transfer-Encoding: chunked (RFC 9112 §7.1).
      res.writeHead(200, { 'content-type': 'application/json' });
      for (let id = 1; id <= limit; id++) {
        res.write(`${id === 1 ? '[' : ','}${JSON.stringify(orderSummary(id))}`);
        // Let the socket flush between items so chunks also arrive in separate reads.
        if (id % 10 === 0) await yieldToLoop();
      }
      res.end(']');
    },
  },
];

await runService({ name: 'orders', routes: () => routes });
