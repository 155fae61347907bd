/**
 * The demo's fixed shape: which pods exist, who calls whom, and where they listen.
 *
 *   client ──► gateway ──► orders ──► inventory
 *   (load)     :8080       :8080      :8080        every service also serves its admin API on a Unix socket
 *                                └─gRPC─► :9090    orders reserves stock at inventory over gRPC (h2c)
 *
 * Every pod has its own network namespace and address, so the same port is reused in each. The admin API
 * is on a Unix socket, not TCP, on purpose: the collector captures TCP only, so the demo's own polling
 * (status line, fault changes) never shows up as traffic in the RED metrics or the service graph.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { RUN_DIR } from './claims.ts';

export const SERVICES = ['gateway', 'orders', 'inventory'] as const;
export type ServiceName = (typeof SERVICES)[number];

/** Pods in address order: gateway gets .2, orders .3, inventory .4, client .5 of the demo's /24. */
export const PODS = [...SERVICES, 'client'] as const;
export type PodName = (typeof PODS)[number];

/** The next hop of each service; inventory calls nobody. */
export const UPSTREAM: Record<ServiceName, ServiceName | undefined> = {
  gateway: 'orders',
  orders: 'inventory',
  inventory: undefined,
};

export const SERVICE_PORT = 8080;

/** The gRPC hop: who serves inventory.v1.Inventory on GRPC_PORT, and who calls it. */
export const GRPC_PORT = 9090;
export const GRPC_SERVER: ServiceName = 'inventory';
export const GRPC_CLIENT: ServiceName = 'orders';

/** The admin socket of one service of the demo with this prefix (e.g. /run/meshpipe-demo/mp-orders.admin.sock). */
export function adminSocketPath(prefix: string, service: ServiceName): string {
  return join(RUN_DIR, `${prefix}${service}.admin.sock`);
}

/** Removes the admin sockets of a demo (its services may have been killed before removing their own). */
export function removeAdminSockets(prefix: string): void {
  for (const service of SERVICES) rmSync(adminSocketPath(prefix, service), { force: true });
}

export function isServiceName(value: string): value is ServiceName {
  return (SERVICES as readonly string[]).includes(value);
}
