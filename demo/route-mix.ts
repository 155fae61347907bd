/**
 * What the load generator sends: a fixed mix of the gateway's routes, drawn from a seeded generator so
 * that two runs with the same seed send the same sequence.
 *
 *   70%  GET  /api/orders/<1..1100>        ~9% of ids do not exist → 404
 *   15%  POST /api/orders {sku, quantity}  ~5% unknown SKUs → 422
 *   10%  GET  /api/orders?limit=<5..60>    chunked response
 *    5%  GET  /api/customers/<n>           no such route → 404
 */
import { ORDER_COUNT, SKU_COUNT, skuName } from './services/catalog.ts';

export interface PlannedRequest {
  method: 'GET' | 'POST';
  path: string;
  body?: string;
  /** The route template, for per-route reporting. */
  route: string;
}

function between(random: () => number, low: number, high: number): number {
  return low + Math.floor(random() * (high - low + 1));
}

export function nextRequest(random: () => number): PlannedRequest {
  const pick = random();
  if (pick < 0.7) {
    const id = between(random, 1, Math.round(ORDER_COUNT * 1.1));
    return { method: 'GET', path: `/api/orders/${id}`, route: '/api/orders/{id}' };
  }
  if (pick < 0.85) {
    const sku = skuName(between(random, 1, Math.round(SKU_COUNT * 1.05)));
    const body = JSON.stringify({ sku, quantity: between(random, 1, 5) });
    return { method: 'POST', path: '/api/orders', body, route: '/api/orders' };
  }
  if (pick < 0.95) {
    return { method: 'GET', path: `/api/orders?limit=${between(random, 5, 60)}`, route: '/api/orders' };
  }
  return { method: 'GET', path: `/api/customers/${between(random, 1, 50)}`, route: '/api/customers/{id}' };
}
