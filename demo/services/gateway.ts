/**
 * gateway: the edge service the load generator talks to. Every route calls orders; answers are wrapped,
 * relayed (404, 422) or turned into 502 when orders fails, and the order list is streamed through
 * chunked, as an API gateway would.
 *
 *   GET  /api/orders/:id   → GET  /orders/:id      (200, 404 for unknown ids)
 *   POST /api/orders       → POST /orders          (201, 400, 422)
 *   GET  /api/orders?limit → GET  /orders?limit    (200, chunked)
 */
import { type Route, readBody, runService, sendJson, UpstreamError } from './service-kit.ts';

const routes: Route[] = [
  {
    method: 'GET',
    path: /^\/api\/orders\/(\d+)$/,
    async handle(_req, res, ctx) {
      const id = ctx.params[0]!;
      const upstream = await ctx.call('GET', `/orders/${id}`);
      if (upstream.status === 404) return sendJson(res, 404, { error: 'order not found', id: Number(id) });
      if (upstream.status !== 200) throw new UpstreamError(`orders answered ${upstream.status}`);
      sendJson(res, 200, { order: JSON.parse(upstream.body.toString('utf8')), servedBy: 'gateway' });
    },
  },
  {
    method: 'POST',
    path: /^\/api\/orders$/,
    async handle(req, res, ctx) {
      const upstream = await ctx.call('POST', '/orders', await readBody(req));
      if (upstream.status >= 500) throw new UpstreamError(`orders answered ${upstream.status}`);
      // 201, 400 and 422 are the client's business: relay them as they are.
      res.writeHead(upstream.status, {
        'content-type': 'application/json',
        'content-length': upstream.body.length,
      });
      res.end(upstream.body);
    },
  },
  {
    method: 'GET',
    path: /^\/api\/orders$/,
    async handle(_req, res, ctx) {
      const limit = ctx.url.searchParams.get('limit') ?? '20';
      const upstream = await ctx.open('GET', `/orders?limit=${encodeURIComponent(limit)}`);
      if (upstream.statusCode !== 200) {
        upstream.resume();
        throw new UpstreamError(`orders answered ${upstream.statusCode}`);
      }
      // No content-length: the body is relayed as it arrives, chunked on this hop too.
      res.writeHead(200, { 'content-type': 'application/json' });
      upstream.pipe(res);
      await new Promise<void>((resolve, reject) => {
        res.once('finish', resolve);
        upstream.once('error', reject);
      });
    },
  },
];

await runService({ name: 'gateway', routes: () => routes });
