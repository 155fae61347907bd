/**
 * The demo's data, derived from ids so every process agrees without a database: orders 1..1000 exist,
 * SKUs sku-1..sku-200 exist, anything else is a 404. Order bodies vary in size on purpose (a few hundred
 * bytes to ~4 KB, and 32 KB for every 100th order) so capture sees small writes and multi-read bodies.
 */

export const ORDER_COUNT = 1000;
export const SKU_COUNT = 200;

export interface OrderItem {
  sku: string;
  quantity: number;
}

export interface Order {
  id: number;
  customer: string;
  status: 'placed' | 'packed' | 'shipped';
  items: OrderItem[];
  notes: string;
}

const STATUSES = ['placed', 'packed', 'shipped'] as const;

export function skuName(n: number): string {
  return `sku-${n}`;
}

export function skuExists(sku: string): boolean {
  const m = /^sku-(\d+)$/.exec(sku);
  return m !== null && Number(m[1]) >= 1 && Number(m[1]) <= SKU_COUNT && !m[1]!.startsWith('0');
}

export function findOrder(id: number): Order | undefined {
  if (!Number.isInteger(id) || id < 1 || id > ORDER_COUNT) return undefined;
  const itemCount = 1 + (id % 3);
  const items: OrderItem[] = [];
  for (let k = 0; k < itemCount; k++) {
    items.push({ sku: skuName(((id * 7 + k * 13) % SKU_COUNT) + 1), quantity: 1 + ((id + k) % 4) });
  }
  const notesLength = id % 100 === 0 ? 32_768 : 50 + ((id * 37) % 4000);
  return {
    id,
    customer: `customer-${(id * 31) % 97}`,
    status: STATUSES[id % STATUSES.length]!,
    items,
    notes: 'lorem ipsum dolor sit amet '.repeat(Math.ceil(notesLength / 27)).slice(0, notesLength),
  };
}

/** The short form the order list streams, one per chunk. */
export function orderSummary(id: number): { id: number; customer: string; status: string; items: number } {
  const order = findOrder(id)!;
  return { id, customer: order.customer, status: order.status, items: order.items.length };
}
