/**
 * The one HTTP server module (lib/http/server.ts) with the health routes every component serves
 * (lib/http/health-routes.ts), over real sockets: liveness and readiness semantics, the exposition with
 * gzip, JSON errors, a Unix socket, listen errors with their code, and graceful close.
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { gunzipSync } from 'node:zlib';
import type { ComponentStatus } from '../../../lib/component-status.ts';
import { ERRORS, isMeshpipeError } from '../../../lib/errors.ts';
import { healthRoutes, PROMETHEUS_TEXT, type Readiness } from '../../../lib/http/health-routes.ts';
import { parseListen, startHttpServer } from '../../../lib/http/server.ts';
import { testLogger } from '../../../testkit/kafka.ts';
import { waitFor } from '../../helpers/wait.ts';

const EXPOSITION = '# TYPE x_total counter\nx_total 1\n';

describe('the HTTP server module', () => {
  it('/healthz is liveness, /readyz readiness, /metrics the exposition (gzip on request)', async () => {
    let status: ComponentStatus = { state: 'starting', summary: 'joining group' };
    let readiness: Readiness = { ready: false, retryAfterSeconds: 7, detail: { warm: false } };
    const server = await startHttpServer({
      listen: { host: '127.0.0.1', port: 0 },
      routes: healthRoutes({
        metrics: () => ({ contentType: PROMETHEUS_TEXT, body: EXPOSITION }),
        status: () => status,
        ready: () => readiness,
      }),
      logger: testLogger,
    });
    const base = `http://${server.address}`;
    try {
      assert.equal(server.port !== null && server.port > 0, true);
      assert.equal((await fetch(`${base}/healthz`)).status, 200, 'starting is alive');
      const notReady = await fetch(`${base}/readyz`);
      assert.equal(notReady.status, 503);
      assert.equal(notReady.headers.get('retry-after'), '7');
      assert.deepEqual(await notReady.json(), {
        ready: false,
        state: 'starting',
        summary: 'joining group',
        warm: false,
      });

      status = { state: 'degraded', summary: 'retrying' };
      assert.equal((await fetch(`${base}/readyz`)).status, 503, "the component's own readiness counts too");
      readiness = { ready: true };
      assert.equal((await fetch(`${base}/readyz`)).status, 200, 'degraded still does its job');

      status = { state: 'failed', summary: 'consumer crashed' };
      const dead = await fetch(`${base}/healthz`);
      assert.equal(dead.status, 503);
      assert.equal(((await dead.json()) as ComponentStatus).summary, 'consumer crashed');
      assert.equal((await fetch(`${base}/readyz`)).status, 503);

      const metrics = await fetch(`${base}/metrics`, { headers: { 'accept-encoding': 'identity' } });
      assert.equal(metrics.headers.get('content-type'), PROMETHEUS_TEXT);
      assert.equal(await metrics.text(), EXPOSITION);
      const zipped = await new Promise<{ encoding: string | undefined; body: Buffer }>((resolve, reject) => {
        httpRequest(`${base}/metrics`, { headers: { 'accept-encoding': 'gzip' } }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            resolve({ encoding: res.headers['content-encoding'], body: Buffer.concat(chunks) }),
          );
        })
          .on('error', reject)
          .end();
      });
      assert.equal(zipped.encoding, 'gzip');
      assert.equal(gunzipSync(zipped.body).toString(), EXPOSITION);

      const missing = await fetch(`${base}/nope`);
      assert.equal(missing.status, 404);
      assert.equal(((await missing.json()) as { error: { code: string } }).error.code, 'NOT_FOUND');
    } finally {
      await server.close();
    }
  });

  it('listens on a Unix socket', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'meshpipe-http-')), 'admin.sock');
    const server = await startHttpServer({
      listen: { path },
      routes: (app, _opts, done) => {
        app.get('/hello', async () => ({ hello: 'socket' }));
        done();
      },
      logger: testLogger,
    });
    try {
      assert.equal(server.address, path);
      assert.equal(server.port, null);
      const body = await new Promise<string>((resolve, reject) => {
        httpRequest({ socketPath: path, path: '/hello' }, (res) => {
          let text = '';
          res.on('data', (c) => {
            text += c;
          });
          res.on('end', () => resolve(text));
        })
          .on('error', reject)
          .end();
      });
      assert.deepEqual(JSON.parse(body), { hello: 'socket' });
    } finally {
      await server.close();
    }
  });

  it('a taken port is the error the caller names, with the address', async () => {
    const blocker = createServer().listen(0, '127.0.0.1');
    await new Promise((r) => blocker.once('listening', r));
    const port = (blocker.address() as { port: number }).port;
    try {
      await assert.rejects(
        startHttpServer({
          listen: { host: '127.0.0.1', port },
          routes: healthRoutes({
            metrics: () => ({ contentType: 'text/plain', body: '' }),
            status: () => ({ state: 'ok', summary: '' }),
          }),
          logger: testLogger,
          listenError: ERRORS.COLLECTOR_METRICS_PORT,
        }),
        (e) => isMeshpipeError(e, 'COLLECTOR_METRICS_PORT') && e.message.includes(`127.0.0.1:${port}`),
      );
    } finally {
      blocker.close();
    }
  });

  it('close lets a request in flight finish, and cuts one that outlasts the grace', async () => {
    let arrived = 0;
    const server = await startHttpServer({
      listen: { host: '127.0.0.1', port: 0 },
      routes: (app, _opts, done) => {
        app.addHook('onRequest', async () => {
          arrived++;
        });
        app.get('/slow', async () => {
          await sleep(300);
          return { done: true };
        });
        app.get('/never', () => new Promise(() => {}));
        done();
      },
      logger: testLogger,
      closeGraceMs: 1_000,
    });
    const base = `http://${server.address}`;
    // An idle keep-alive connection must not hold the close either.
    await (await fetch(`${base}/slow`)).json();
    const slow = fetch(`${base}/slow`).then((r) => r.json());
    const never = fetch(`${base}/never`).then(
      () => 'answered',
      () => 'cut',
    );
    await waitFor('both requests in flight', () => arrived === 3);
    await server.close();
    assert.deepEqual(await slow, { done: true });
    assert.equal(await never, 'cut');
    await assert.rejects(fetch(`${base}/slow`), 'the listener is gone');
  });

  it('parses listen addresses', () => {
    assert.deepEqual(parseListen('127.0.0.1:9464'), { host: '127.0.0.1', port: 9464 });
    assert.deepEqual(parseListen('[::1]:0'), { host: '::1', port: 0 });
    assert.deepEqual(parseListen('0.0.0.0:9467'), { host: '0.0.0.0', port: 9467 });
    for (const bad of ['', '9464', 'host:', 'host:99999', 'a b:1'])
      assert.equal(parseListen(bad), undefined, bad);
  });
});
