/**
 * The demo's fixed shape: which pods exist, who calls whom, and the ports they listen on.
 *
 *   client ──► gateway ──► orders ──► inventory
 *   (load)     :8080       :8080      :8080        every service also serves its admin API on :9901
 *
 * Every pod has its own network namespace and address, so the same ports are reused in each.
 */

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
export const ADMIN_PORT = 9901;

export function isServiceName(value: string): value is ServiceName {
  return (SERVICES as readonly string[]).includes(value);
}
