/**
 * A recorded-style raw event stream of a 3-service call chain: an uncaptured client calls gateway,
 * gateway calls orders, orders calls inventory, each over its own TCP connection, each end captured by
 * its node's collector (the outside client excepted). Timeline (µs after T0):
 *
 *   0     gateway reads  GET /checkout/17            (from outside)
 *   1000  gateway writes GET /orders/17   → 1050 orders reads it
 *   2000  orders writes  GET /items/99    → 2050 inventory reads it
 *   3000  inventory answers               → 3100 orders reads it
 *   4000  orders answers                  → 4100 gateway reads it
 *   5000  gateway answers the outside client
 */
import type { L7RawEvent } from '../../schemas/types.ts';
import { CapturedSide, Connection, type Endpoint, MS, T0 } from './raw-events.ts';

export const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
/** Span ids the traceparent headers of the chain carry: the outside caller's, gateway's, orders'. */
export const OUTSIDE_SPAN = '00f067aa0ba902b7';
export const GATEWAY_CALL_SPAN = '1111111111111111';
export const ORDERS_CALL_SPAN = '2222222222222222';

export interface ChainOptions {
  /** Requests carry W3C traceparent headers (all three hops). */
  traceparent?: boolean;
  /** Nodes of the three services (default all on node-a). */
  nodes?: { gateway?: string; orders?: string; inventory?: string };
  /** Shift of the whole timeline. */
  offset?: bigint;
  /** Distinguishes the ports of several chains run side by side. */
  instance?: number;
}

export interface Chain {
  events: L7RawEvent[];
  gatewayIn: CapturedSide;
  toOrders: Connection;
  toInventory: Connection;
}

function tp(parent: string): string {
  return `traceparent: 00-${TRACE_ID}-${parent}-01\r\n`;
}

export function threeServiceChain(options: ChainOptions = {}): Chain {
  const n = options.instance ?? 0;
  const at = T0 + (options.offset ?? 0n);
  const nodes = { gateway: 'node-a', orders: 'node-a', inventory: 'node-a', ...options.nodes };
  const outside: Endpoint = {
    node: 'outside',
    pid: 1,
    service: 'outside',
    address: '192.0.2.10',
    port: 50000 + n,
  };
  const gatewayIn: Endpoint = {
    node: nodes.gateway,
    pid: 100,
    tid: 101,
    service: 'gateway',
    address: '10.0.0.1',
    port: 8080,
  };
  const gatewayOut: Endpoint = { ...gatewayIn, port: 40000 + n };
  const ordersIn: Endpoint = {
    node: nodes.orders,
    pid: 200,
    tid: 201,
    service: 'orders',
    address: '10.0.0.2',
    port: 8080,
  };
  const ordersOut: Endpoint = { ...ordersIn, port: 41000 + n };
  const inventoryIn: Endpoint = {
    node: nodes.inventory,
    pid: 300,
    tid: 301,
    service: 'inventory',
    address: '10.0.0.3',
    port: 8080,
  };

  const h = options.traceparent === true;
  const checkout = `GET /checkout/17 HTTP/1.1\r\nHost: gateway\r\n${h ? tp(OUTSIDE_SPAN) : ''}\r\n`;
  const orders = `GET /orders/17 HTTP/1.1\r\nHost: orders\r\n${h ? tp(GATEWAY_CALL_SPAN) : ''}\r\n`;
  const items = `GET /items/99 HTTP/1.1\r\nHost: inventory\r\n${h ? tp(ORDERS_CALL_SPAN) : ''}\r\n`;
  const ok = (body: string) =>
    `HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`;

  const gwIn = new CapturedSide('SERVER', gatewayIn, outside);
  const toOrders = new Connection(gatewayOut, ordersIn);
  const toInventory = new Connection(ordersOut, inventoryIn);
  const [gwCalls, ordersServes] = toOrders.exchange(at + 1n * MS, orders, ok('{"order":17}'), {
    latency: 3n * MS,
  });
  const [ordersCalls, inventoryServes] = toInventory.exchange(at + 2n * MS, items, ok('{"stock":3}'), {
    latency: 1n * MS,
  });
  const events = [
    gwIn.open(at - 1n * MS),
    toOrders.client.open(at + 1n * MS - 100_000n),
    toOrders.server.open(at + 1n * MS - 50_000n),
    toInventory.client.open(at + 2n * MS - 100_000n),
    toInventory.server.open(at + 2n * MS - 50_000n),
    gwIn.data(at, 'ingress', checkout),
    ...gwCalls,
    ...ordersServes,
    ...ordersCalls,
    ...inventoryServes,
    gwIn.data(at + 5n * MS, 'egress', ok('{"total":42}')),
  ];
  return { events, gatewayIn: gwIn, toOrders, toInventory };
}
