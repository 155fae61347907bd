/**
 * inventory: the leaf service. Answers stock for a SKU with a small JSON body after some CPU work
 * (--work hash rounds, default 1000, about a millisecond), so it shows up in latency like a real
 * lookup would; unknown SKUs are 404. Over gRPC (--grpc-port) it reserves stock for new orders.
 *
 *   GET /inventory/:sku                      200 {sku, stock, warehouse, checksum} or 404
 *   inventory.v1.Inventory/Reserve (gRPC)    {sku, ok, stock} (ok: enough stock), NOT_FOUND unknown SKU
 */
import { createHash } from 'node:crypto';
import { skuExists } from './catalog.ts';
import { GRPC_CODE } from './grpc-inventory.ts';
import { type Route, runService, sendJson } from './service-kit.ts';

function stockFor(sku: string, rounds: number): { stock: number; checksum: string } {
  let digest = Buffer.from(sku);
  for (let i = 0; i < rounds; i++) digest = createHash('sha256').update(digest).digest();
  return { stock: digest[0]! % 50, checksum: digest.toString('hex', 0, 8) };
}

await runService({
  name: 'inventory',
  routes: ({ work }): Route[] => [
    {
      method: 'GET',
      path: /^\/inventory\/([^/]+)$/,
      async handle(_req, res, ctx) {
        const sku = decodeURIComponent(ctx.params[0]!);
        if (!skuExists(sku)) return sendJson(res, 404, { error: 'unknown sku', sku });
        const { stock, checksum } = stockFor(sku, work);
        sendJson(res, 200, { sku, stock, warehouse: `wh-${sku.length % 3}`, checksum });
      },
    },
  ],
  reserve:
    ({ work }) =>
    async ({ sku, quantity }) => {
      if (!skuExists(sku)) return { code: GRPC_CODE.NOT_FOUND, details: `unknown sku: ${sku}` };
      const { stock } = stockFor(sku, work);
      return { code: GRPC_CODE.OK, reply: { sku, ok: stock >= quantity, stock } };
    },
});
