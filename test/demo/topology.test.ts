import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import { SERVICES } from '../../demo/layout.ts';
import { type Demo, startDemo } from '../../demo/topology.ts';
import { parseTraceparent } from '../../demo/trace-context.ts';
import { testLogger } from '../../testkit/kafka.ts';
import { httpRequest, isAlive, leftovers } from './helpers.ts';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const CLIENT_SPAN = '00f067aa0ba902b7';
const TRACEPARENT = `00-${TRACE_ID}-${CLIENT_SPAN}-01`;
/** The services' upstream pool size (startDemo's default). */
const POOL = 4;

describe('demo topology, traceparent propagation, no load', () => {
  let demo: Demo;
  before(async () => {
    demo = await startDemo({ rate: 0, unique: true, logger: testLogger });
  });
  after(async () => demo?.stop());

  it('runs every pod in its own namespace with a live process', () => {
    assert.deepEqual(
      demo.pods.map((p) => p.name),
      [...SERVICES, 'client'],
    );
    assert.equal(new Set(demo.pods.map((p) => p.address)).size, 4);
    for (const pod of demo.pods.filter((p) => p.name !== 'client')) assert.ok(isAlive(pod.pid!), pod.name);
    assert.equal(demo.pods.find((p) => p.name === 'client')!.pid, null);
  });

  it('answers through gateway → orders → inventory across the namespaces', async () => {
    const found = await httpRequest(`${demo.gatewayUrl}/api/orders/7`);
    assert.equal(found.status, 200);
    const order = JSON.parse(found.body).order as { id: number; items: Array<{ inStock: number }> };
    assert.equal(order.id, 7);
    assert.ok(order.items.length >= 1 && order.items.every((i) => typeof i.inStock === 'number'));

    assert.equal((await httpRequest(`${demo.gatewayUrl}/api/orders/5000`)).status, 404);
    assert.equal((await httpRequest(`${demo.gatewayUrl}/api/nothing`)).status, 404);
    const created = await httpRequest(`${demo.gatewayUrl}/api/orders`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ sku: 'sku-3', quantity: 2 }),
    });
    assert.equal(created.status, 201);
    const unknownSku = await httpRequest(`${demo.gatewayUrl}/api/orders`, {
      method: 'POST',
      body: JSON.stringify({ sku: 'sku-9999', quantity: 1 }),
    });
    assert.equal(unknownSku.status, 422);

    const list = await httpRequest(`${demo.gatewayUrl}/api/orders?limit=25`);
    assert.equal(list.status, 200);
    assert.equal(list.headers['transfer-encoding'], 'chunked');
    assert.equal((JSON.parse(list.body) as unknown[]).length, 25);

    // The calls really crossed: orders saw the gateway's address, inventory the orders' address.
    const address = (name: string) => demo.pods.find((p) => p.name === name)!.address;
    const ordersSaw = await demo.requests('orders');
    const inventorySaw = await demo.requests('inventory');
    assert.ok(ordersSaw.every((r) => r.remote.startsWith(`${address('gateway')}:`)));
    assert.ok(
      inventorySaw.length > 0 && inventorySaw.every((r) => r.remote.startsWith(`${address('orders')}:`)),
    );
  });

  it('reuses keep-alive connections to inventory (at most the pool size)', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const before = await demo.stats();
      for (let id = 1; id <= 30; id++) {
        assert.equal((await httpRequest(`${demo.gatewayUrl}/api/orders/${id}`, { agent })).status, 200);
      }
      const now = await demo.stats();
      const inventoryRequests = now.services.inventory.requests - before.services.inventory.requests;
      assert.ok(inventoryRequests >= 30, `inventory answered ${inventoryRequests}`);
      assert.ok(now.services.inventory.connections.accepted <= POOL, JSON.stringify(now.services.inventory));
      assert.ok(now.services.orders.connections.accepted <= POOL, JSON.stringify(now.services.orders));
      // Our own single keep-alive socket to the gateway: one connection for 30 requests.
      assert.equal(
        now.services.gateway.connections.accepted - before.services.gateway.connections.accepted,
        1,
      );
    } finally {
      agent.destroy();
    }
  });

  it('propagates the trace id to inventory with a new parent id at each hop', async () => {
    assert.equal(
      (await httpRequest(`${demo.gatewayUrl}/api/orders/8`, { headers: { traceparent: TRACEPARENT } }))
        .status,
      200,
    );
    const inTrace = async (service: (typeof SERVICES)[number]) =>
      (await demo.requests(service)).filter(
        (r) => parseTraceparent(r.traceparent ?? undefined)?.traceId === TRACE_ID,
      );
    const [gateway] = await inTrace('gateway');
    const [orders] = await inTrace('orders');
    const inventory = await inTrace('inventory');
    assert.equal(gateway?.traceparent, TRACEPARENT);
    assert.ok(orders !== undefined && inventory.length >= 1);

    const ordersParent = parseTraceparent(orders.traceparent!)!.parentId;
    const inventoryParents = inventory.map((r) => parseTraceparent(r.traceparent!)!.parentId);
    // Each hop's parent is a span id its caller sent (a client span), never the caller's own parent.
    assert.deepEqual(gateway.outgoing, [orders.traceparent]);
    assert.deepEqual(
      orders.outgoing,
      inventory.map((r) => r.traceparent),
    );
    const parents = [CLIENT_SPAN, ordersParent, ...inventoryParents];
    assert.equal(new Set(parents).size, parents.length, `parent ids repeat: ${parents.join(' ')}`);
  });

  it('orders reserves a new order at inventory over gRPC, with traceparent metadata', async () => {
    const created = await httpRequest(`${demo.gatewayUrl}/api/orders`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', traceparent: TRACEPARENT },
      body: JSON.stringify({ sku: 'sku-4', quantity: 1 }),
    });
    assert.equal(created.status, 201);
    const inventory = demo.pods.find((p) => p.name === 'inventory')!;
    assert.equal(inventory.grpcPort, 9090);
    const orders = (await demo.requests('orders', 1))[0]!;
    assert.equal(orders.method, 'POST');
    assert.equal(orders.outgoing.length, 2, 'the stock check (HTTP) and the reservation (gRPC)');
    const [call] = (await demo.requests('inventory')).filter(
      (r) => r.path === '/inventory.v1.Inventory/Reserve' && r.traceparent === orders.outgoing[1],
    );
    assert.ok(call, 'inventory got the reservation with the traceparent orders sent');
    assert.equal(call.grpcStatus, 0);
    assert.equal(call.status, 200);
    const ordersAddress = demo.pods.find((p) => p.name === 'orders')!.address;
    assert.ok(call.remote.includes(ordersAddress), `from orders: ${call.remote}`);
    assert.equal(parseTraceparent(call.traceparent!)?.traceId, TRACE_ID);
  });

  it('starts a trace at the gateway when the client sends none', async () => {
    assert.equal((await httpRequest(`${demo.gatewayUrl}/api/orders/9`)).status, 200);
    const gateway = (await demo.requests('gateway', 1))[0]!;
    assert.equal(gateway.traceparent, null);
    const sent = parseTraceparent(gateway.outgoing[0]);
    assert.ok(sent !== undefined && sent.traceId !== TRACE_ID);
  });

  it('injects errors and latency at runtime', async () => {
    await demo.setFault('gateway', { errorRate: 1 });
    const statuses = [];
    for (let i = 0; i < 10; i++)
      statuses.push((await httpRequest(`${demo.gatewayUrl}/api/orders/${i + 1}`)).status);
    assert.ok(
      statuses.every((s) => s === 500 || s === 503),
      statuses.join(),
    );
    assert.ok((await demo.stats()).services.gateway.injectedErrors >= 10);

    await demo.setFault('gateway', 'none');
    // An error deep in the chain surfaces as 5xx at the edge.
    await demo.setFault('inventory', 'errors=1');
    assert.equal((await httpRequest(`${demo.gatewayUrl}/api/orders/10`)).status, 502);
    await demo.setFault('inventory', 'none');

    await demo.setFault('orders', 'latency=300');
    for (let i = 0; i < 3; i++) {
      const r = await httpRequest(`${demo.gatewayUrl}/api/orders/${i + 1}`);
      assert.equal(r.status, 200);
      // A lower bound only: the injected delay is a floor, never a ceiling.
      assert.ok(r.ms >= 300, `answered in ${r.ms} ms`);
    }
    assert.deepEqual((await demo.stats()).services.orders.fault, {
      latencyMs: 300,
      jitterMs: 0,
      errorRate: 0,
    });
    await demo.setFault('orders', 'none');
    assert.equal((await httpRequest(`${demo.gatewayUrl}/api/orders/11`)).status, 200);
  });

  it('stops: no process, namespace, interface or claim left', async () => {
    const pids = demo.pods.map((p) => p.pid).filter((p): p is number => p !== null);
    await demo.stop();
    assert.deepEqual(leftovers(demo.prefix), []);
    assert.deepEqual(pids.filter(isAlive), []);
    await demo.stop();
  });
});

describe('demo topology, no propagation, with load from the client pod', () => {
  let demo: Demo;
  before(async () => {
    demo = await startDemo({ rate: 50, loadCount: 40, propagate: false, unique: true, logger: testLogger });
  });
  after(async () => demo?.stop());

  it('sends a bounded load from the client pod and no traceparent anywhere', async () => {
    const final = await demo.loadDone;
    assert.ok(final !== null);
    assert.equal(final.sent, 40);
    assert.equal(final.failed + final.serverErrors, 0);
    assert.equal(final.ok + final.clientErrors, 40);

    // Even a client that sends one gets no further: the services do not propagate.
    await httpRequest(`${demo.gatewayUrl}/api/orders/5`, { headers: { traceparent: TRACEPARENT } });
    const client = demo.pods.find((p) => p.name === 'client')!;
    const gateway = await demo.requests('gateway');
    assert.equal(gateway.filter((r) => r.remote.startsWith(`${client.address}:`)).length, 40);
    for (const service of SERVICES) {
      for (const r of await demo.requests(service)) {
        assert.deepEqual(r.outgoing, [], `${service} sent a traceparent`);
        if (r.remote.startsWith(`${client.address}:`) || service !== 'gateway')
          assert.equal(r.traceparent, null);
      }
    }
  });
});
