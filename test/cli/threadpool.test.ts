import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { DEFAULT_THREADPOOL_SIZE } from '../../cli/threadpool.ts';

const threadpoolModule = new URL('../../cli/threadpool.ts', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'meshpipe-threadpool-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/**
 * Occupies `blocked` threads of the pool with opens of FIFOs nobody writes to (each blocks its thread,
 * as a librdkafka call waiting on an absent broker does), then asks the pool for a stat: it runs only if
 * a thread is left. Prints "ran" or "starved", then lets the opens finish.
 */
function probe(blocked: number): string {
  const fifos = Array.from({ length: blocked }, (_, i) => join(dir, `fifo-${blocked}-${i}`));
  for (const fifo of fifos) execFileSync('mkfifo', [fifo]);
  return `
    import { open, stat } from 'node:fs/promises';
    import { closeSync, constants, openSync } from 'node:fs';
    const fifos = ${JSON.stringify(fifos)};
    const readers = fifos.map((f) => open(f, 'r'));
    await new Promise((r) => setTimeout(r, 200));
    const verdict = await Promise.race([
      stat('/').then(() => 'ran'),
      new Promise((r) => setTimeout(() => r('starved'), 2000).unref()),
    ]);
    for (const f of fifos) closeSync(openSync(f, constants.O_WRONLY | constants.O_NONBLOCK));
    for (const r of readers) await (await r).close();
    console.log(verdict);
  `;
}

function run(source: string, env: NodeJS.ProcessEnv): string {
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', source], {
    env,
    encoding: 'utf8',
    timeout: 30_000,
  });
  assert.equal(child.status, 0, child.stderr);
  return child.stdout.trim();
}

describe('the CLI sizes the thread pool the Kafka client blocks on', () => {
  const env = { ...process.env };
  delete env.UV_THREADPOOL_SIZE;

  it("a process left at libuv's four threads starves once four calls block (the stall the size prevents)", () => {
    assert.equal(run(probe(4), env), 'starved');
  });

  it('imported first, it leaves threads free with twice the four calls blocked', () => {
    assert.ok(DEFAULT_THREADPOOL_SIZE > 8);
    assert.equal(run(`import ${JSON.stringify(threadpoolModule)};\n${probe(8)}`, env), 'ran');
  });

  it('keeps a size the user set', () => {
    const source = `import ${JSON.stringify(threadpoolModule)}; console.log(process.env.UV_THREADPOOL_SIZE);`;
    assert.equal(run(source, { ...env, UV_THREADPOOL_SIZE: '12' }), '12');
  });

  it('cli/main.ts imports it before any other module', () => {
    const main = readFileSync(new URL('../../cli/main.ts', import.meta.url), 'utf8');
    const firstImport = main.split('\n').find((line) => line.startsWith('import '));
    assert.equal(firstImport, "import './threadpool.ts';");
  });
});
