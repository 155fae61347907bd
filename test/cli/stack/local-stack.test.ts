import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { choosePort, isPortFree } from '../../../cli/stack/ports.ts';
import { canConnect } from '../../../lib/local-stack-state.ts';
import { runCli } from '../../helpers/cli.ts';

describe('ports', () => {
  it('keeps the preferred port when free and picks another when taken', async () => {
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const taken = (server.address() as { port: number }).port;
    assert.equal(await isPortFree(taken), false);
    const other = await choosePort(taken);
    assert.notEqual(other, taken);
    assert.equal(await isPortFree(other), true);
    server.close();
  });
});

describe('a fresh local stack (its own data directory)', () => {
  let dir: string;
  let blocker: Server;
  let blockedPort: number;
  let env: Record<string, string>;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'meshpipe-stack-'));
    blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    blockedPort = (blocker.address() as { port: number }).port;
    const config = join(dir, 'meshpipe.json');
    writeFileSync(config, JSON.stringify({ stack: { kafkaPort: blockedPort, kafkaHeapMb: 384 } }));
    env = {
      MESHPIPE_STACK_DIR: join(dir, 'stack'),
      MESHPIPE_CONFIG: config,
      MESHPIPE_KAFKA_BROKERS: '',
      MESHPIPE_REDIS_URL: '',
    };
  });

  after(async () => {
    await runCli(['stack', 'stop'], { env, timeoutMs: 60_000 }).catch(() => {});
    blocker.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('formats storage, starts on another port when the preferred one is taken, is reused, and stops', async () => {
    const started = await runCli(['stack', 'start', '--no-redis', '--json'], { env, timeoutMs: 150_000 });
    assert.equal(started.code, 0, started.stderr);
    const first = JSON.parse(started.stdout) as { endpoints: { kafkaBrokers: string[] }; started: string[] };
    assert.deepEqual(first.started, ['kafka']);
    const port = Number(first.endpoints.kafkaBrokers[0]!.split(':')[1]);
    assert.notEqual(port, blockedPort, 'did not use the taken port');
    assert.ok(await canConnect(port));

    const again = await runCli(['stack', 'start', '--no-redis', '--json'], { env, timeoutMs: 60_000 });
    const second = JSON.parse(again.stdout) as { started: string[]; reused: string[] };
    assert.deepEqual(second.started, []);
    assert.deepEqual(second.reused, ['kafka']);

    const status = await runCli(['stack', 'status', '--json'], { env });
    assert.equal((JSON.parse(status.stdout) as { kafka: { running: boolean } }).kafka.running, true);

    const stopped = await runCli(['stack', 'stop', '--json'], { env, timeoutMs: 60_000 });
    assert.deepEqual((JSON.parse(stopped.stdout) as { stopped: string[] }).stopped, ['kafka']);
    assert.equal(await canConnect(port), false);
  });

  it('names the set-up command when the Kafka jars are missing', async () => {
    const r = await runCli(['stack', 'start', '--no-redis'], {
      env: { ...env, MESHPIPE_KAFKA_VERSION: '0.0.0-missing' },
    });
    assert.equal(r.code, 69);
    assert.match(r.stderr, /MESHPIPE_ERR_SETUP_KAFKA_JARS_MISSING/);
    assert.match(r.stderr, /scripts\/setup/);
  });
});
