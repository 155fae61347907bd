/**
 * The admin API of a real demo service process (inventory, no network namespace needed: it listens on
 * 127.0.0.1 here), served by lib/http/server.ts: the client the CLI uses reads and changes the fault, a
 * change takes effect on the next request, and requests the JSON schemas refuse get the demo's error
 * codes without touching the fault.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync } from 'node:fs';
import http from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { adminClient } from '../../../demo/admin-client.ts';
import { NO_FAULT } from '../../../demo/fault.ts';

const INVENTORY = fileURLToPath(new URL('../../../demo/services/inventory.ts', import.meta.url));

async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  return port;
}

/** A raw request to the admin socket: status and parsed body. */
function admin(socketPath: string, method: string, path: string, body?: string) {
  return new Promise<{ status: number; body: { error?: { code: string; message: string } } }>(
    (resolve, reject) => {
      const req = http.request(
        {
          socketPath,
          method,
          path,
          headers: body === undefined ? {} : { 'content-type': 'application/json' },
        },
        (res) => {
          let text = '';
          res.on('data', (c) => {
            text += c;
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
        },
      );
      req.on('error', reject);
      req.end(body);
    },
  );
}

describe('the demo admin API', () => {
  let child: ChildProcess;
  let socket: string;
  let port: number;

  before(async () => {
    socket = join(mkdtempSync(join(tmpdir(), 'meshpipe-admin-')), 'inventory.admin.sock');
    port = await freePort();
    child = spawn(
      process.execPath,
      [INVENTORY, '--host', '127.0.0.1', '--port', String(port), '--admin-socket', socket],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    const [line] = (await once(child.stdout!, 'data')) as [Buffer];
    assert.equal((JSON.parse(line.toString()) as { type: string }).type, 'ready');
  });
  after(() => {
    child.kill('SIGTERM');
  });

  it('reads and changes the fault; the next request has it', async () => {
    const client = adminClient(socket);
    assert.deepEqual(await client.fault(), NO_FAULT);
    assert.deepEqual(await client.setFault({ errorRate: 1 }), { ...NO_FAULT, errorRate: 1 });
    const res = await fetch(`http://127.0.0.1:${port}/inventory/sku-1`);
    assert.ok(res.status === 500 || res.status === 503, `an injected error, got ${res.status}`);
    await client.setFault(NO_FAULT);
    assert.equal((await fetch(`http://127.0.0.1:${port}/inventory/sku-1`)).status, 200);
    const stats = await client.stats();
    assert.equal(stats.service, 'inventory');
    assert.equal(stats.injectedErrors, 1);
    assert.equal((await client.requests(1)).length, 1);
  });

  it("refuses what the schemas do not allow, with the demo's codes, and keeps the fault", async () => {
    for (const body of [
      '{"latencyMs":"slow"}',
      '{"errorRate":2}',
      '{"latencyMs":-1}',
      '{"colour":"red"}',
      '[1]',
    ]) {
      const r = await admin(socket, 'PUT', '/fault', body);
      assert.equal(r.status, 400, body);
      assert.equal(r.body.error?.code, 'MESHPIPE_ERR_DEMO_BAD_FAULT', body);
    }
    const badQuery = await admin(socket, 'GET', '/requests?limit=0');
    assert.equal(badQuery.status, 400);
    assert.equal(badQuery.body.error?.code, 'MESHPIPE_ERR_DEMO_BAD_OPTION');
    assert.match(badQuery.body.error!.message, /limit/);
    assert.equal((await admin(socket, 'GET', '/nope')).status, 404);
    assert.deepEqual(await adminClient(socket).fault(), NO_FAULT);
  });
});
