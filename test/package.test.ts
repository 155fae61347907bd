/**
 * meshpipe as a user's dependency, the way a new user gets it: `npm pack` (which builds dist/ through
 * prepack), `npm install ./meshpipe-<version>.tgz` in a scratch project outside this checkout, and there —
 * with nothing but the installed package —
 *   - `npx meshpipe processor new` scaffolds a processor that imports from 'meshpipe', whose own unit
 *     test (meshpipe/testing) passes, and which tsc type-checks against the shipped .d.ts;
 *   - a script of the project subscribes to the raw topic with `subscribe` from 'meshpipe';
 *   - `npx meshpipe replay --to-kafka` feeds recorded events to the real broker, `npx meshpipe process`
 *     runs the project's processor on them, and `npx meshpipe tail` reads what it produced;
 *   - what the package cannot bring is named with its fix: the eBPF loader is built where the package
 *     is installed (`make -C node_modules/meshpipe/bpf`).
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PROJECT_ROOT } from '../lib/paths.ts';
import { rawEvent } from '../processors/runtime/test-events.ts';
import { createRecordingWriter } from '../sdk/recording.ts';
import { type TestKafka, testKafka } from '../testkit/kafka.ts';
import { jsonLines } from './helpers/cli.ts';
import { waitFor } from './helpers/wait.ts';
import { TEST_RUNTIME } from './processors/runtime/helpers.ts';

const NODE_BIN = dirname(process.execPath);
const SERVICES = ['checkout', 'payments', 'stock'];
const EVENTS_PER_SERVICE = 20;

/** Runs a command in `cwd` to its end, with the project's Node first on PATH. */
function run(command: string, args: string[], cwd: string, env: Record<string, string> = {}) {
  // Without NODE_TEST_CONTEXT (set by the runner running this file) a child `node --test` reports normally.
  const { NODE_TEST_CONTEXT: _, ...inherited } = process.env;
  return spawnSync(command, args, {
    cwd,
    encoding: 'utf8',
    env: { ...inherited, PATH: `${NODE_BIN}:${process.env.PATH}`, MESHPIPE_LOG_LEVEL: 'warn', ...env },
    timeout: 300_000,
  });
}

function started(command: string, args: string[], cwd: string, env: Record<string, string>) {
  const child = spawn(command, args, {
    cwd,
    env: { ...process.env, PATH: `${NODE_BIN}:${process.env.PATH}`, MESHPIPE_LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => {
    stdout += d;
  });
  child.stderr!.on('data', (d) => {
    stderr += d;
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, exited, stdout: () => stdout, stderr: () => stderr };
}

describe('the npm package, installed in a project of its own', { timeout: 600_000 }, () => {
  let project: string;
  let k: TestKafka;
  let env: Record<string, string>;
  const children: ChildProcess[] = [];

  before(async () => {
    const packed = mkdtempSync(join(tmpdir(), 'meshpipe-pack-'));
    const pack = run('npm', ['pack', '--pack-destination', packed, '--loglevel=error'], PROJECT_ROOT);
    assert.equal(pack.status, 0, `npm pack: ${pack.stdout}${pack.stderr}`);
    const [tarball] = readdirSync(packed).filter((f) => f.endsWith('.tgz'));
    assert.ok(tarball, `npm pack wrote no tarball: ${pack.stdout}`);

    project = mkdtempSync(join(tmpdir(), 'meshpipe-user-'));
    writeFileSync(
      join(project, 'package.json'),
      JSON.stringify({ name: 'my-telemetry', version: '1.0.0', private: true, type: 'module' }, null, 2),
    );
    // The Kafka client's prebuilt binary comes from GitHub, unreachable here: its install builds
    // librdkafka, against the system's libraries and this Node.js's headers — what README.md
    // tells a user without that download to set.
    const nodePrefix = dirname(dirname(process.execPath));
    const install = run(
      'npm',
      ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error', join(packed, tarball)],
      project,
      {
        CKJS_LINKING: 'dynamic',
        ...(existsSync(join(nodePrefix, 'include/node/node.h')) ? { npm_config_nodedir: nodePrefix } : {}),
      },
    );
    assert.equal(install.status, 0, `npm install: ${install.stdout}${install.stderr}`);

    k = await testKafka('package');
    await k.createTopics();
    writeFileSync(
      join(project, 'meshpipe.json'),
      JSON.stringify({ processors: { 'web-traffic': { windowMs: 1_000, runtime: TEST_RUNTIME } } }),
    );
    env = { ...k.env, MESHPIPE_CONFIG: join(project, 'meshpipe.json') };
  });
  after(async () => {
    for (const child of children) child.kill('SIGKILL');
    await k?.cleanup();
  });

  it('ships JavaScript and declarations: the CLI runs with npx, the library imports', () => {
    const version = run('npx', ['--no-install', 'meshpipe', '--version'], project);
    assert.equal(version.status, 0, version.stderr);
    const ours = (JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version: string })
      .version;
    assert.equal(version.stdout.trim(), ours);
    const installed = join(project, 'node_modules', 'meshpipe');
    assert.ok(
      readdirSync(join(installed, 'dist', 'sdk')).includes('index.d.ts'),
      'declarations beside the JavaScript',
    );
    assert.ok(
      !readdirSync(join(installed, 'dist', 'lib')).some((f) => f.endsWith('.ts') && !f.endsWith('.d.ts')),
    );
    const imported = run(
      process.execPath,
      ['-e', "const m = await import('meshpipe'); console.log(typeof m.subscribe, typeof m.defineProcessor)"],
      project,
    );
    assert.equal(imported.stdout.trim(), 'function function', imported.stderr);
  });

  it('scaffolds a processor importing from meshpipe; its test passes and tsc accepts it', () => {
    const created = run(
      'npx',
      ['--no-install', 'meshpipe', 'processor', 'new', 'web-traffic', '--json'],
      project,
    );
    assert.equal(created.status, 0, created.stderr);
    const { index, test } = JSON.parse(created.stdout) as { index: string; test: string };
    assert.match(readFileSync(join(project, index), 'utf8'), /from 'meshpipe';/);

    const tested = run(process.execPath, ['--test', '--test-reporter=tap', test], project);
    assert.equal(tested.status, 0, tested.stdout + tested.stderr);
    assert.match(tested.stdout, /# pass 1/);

    // A TypeScript user's view: the scaffold and a subscriber type-check against the shipped .d.ts.
    writeFileSync(
      join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'es2024',
          module: 'nodenext',
          moduleResolution: 'nodenext',
          strict: true,
          noEmit: true,
          allowImportingTsExtensions: true,
          types: ['node'],
          typeRoots: [join(PROJECT_ROOT, 'node_modules', '@types')],
          skipLibCheck: true,
        },
        include: ['processors', 'test', '*.ts'],
      }),
    );
    writeSubscriber();
    const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
    const checked = run(process.execPath, [tsc, '-p', join(project, 'tsconfig.json')], project);
    assert.equal(checked.status, 0, checked.stdout + checked.stderr);
  });

  /** A script of the project's own: every raw event it receives, as a JSON line. */
  function writeSubscriber(): void {
    writeFileSync(
      join(project, 'watch-raw.ts'),
      `import { subscribe } from 'meshpipe';

const sub = await subscribe(
  'raw',
  ({ value }) => {
    process.stdout.write(\`\${JSON.stringify({ service: value.workload.service, kind: value.kind })}\\n\`);
  },
  { fromBeginning: true },
);
process.on('SIGTERM', () => void sub.stop().then(() => process.exit(0)));
`,
    );
  }

  it('subscribes, and runs its processor on the real broker with meshpipe process', async () => {
    const subscriber = started(process.execPath, ['watch-raw.ts'], project, env);
    children.push(subscriber.child);

    const recording = join(project, 'capture.avro');
    const writer = createRecordingWriter(recording);
    let seq = 0n;
    for (const service of SERVICES)
      for (let i = 0; i < EVENTS_PER_SERVICE; i++)
        writer.write(
          rawEvent({ service, direction: 'INGRESS', head: `GET /items/${i} HTTP/1.1\r\n\r\n`, seq: seq++ }),
        );
    await writer.close();
    const replayed = run(
      'npx',
      ['--no-install', 'meshpipe', 'replay', recording, '--to-kafka'],
      project,
      env,
    );
    assert.equal(replayed.status, 0, replayed.stderr);

    // The bin npx runs, run directly: signals then reach meshpipe itself, not an npx in between.
    const processor = started(
      join(project, 'node_modules', '.bin', 'meshpipe'),
      ['process', './processors/web-traffic/index.ts', '--json'],
      project,
      env,
    );
    children.push(processor.child);

    const total = SERVICES.length * EVENTS_PER_SERVICE;
    await waitFor(
      `the subscriber to receive all ${total} raw events`,
      () => jsonLines(subscriber.stdout()).length === total,
      { timeoutMs: 90_000, intervalMs: 500 },
    );
    const received = jsonLines(subscriber.stdout()) as Array<{ service: string; kind: string }>;
    assert.deepEqual([...new Set(received.map((r) => r.service))].sort(), SERVICES);

    // The processor's summaries, read with the installed CLI and the processor's own schema.
    const messages = new Map<string, number>();
    await waitFor(
      'summaries of every service counting every message',
      () => {
        const tail = run(
          'npx',
          [
            '--no-install',
            'meshpipe',
            'tail',
            `${k.prefix}.web-traffic.v1`,
            '--schema',
            'processors/web-traffic/web-traffic.avsc',
            '--from-beginning',
            '--idle-timeout',
            '3',
            '--json',
          ],
          project,
          env,
        );
        messages.clear();
        for (const line of jsonLines(tail.stdout) as Array<{ value: { service: string; messages: string } }>)
          messages.set(
            line.value.service,
            (messages.get(line.value.service) ?? 0) + Number(line.value.messages),
          );
        return SERVICES.every((s) => messages.get(s) === EVENTS_PER_SERVICE);
      },
      { timeoutMs: 120_000, intervalMs: 1_000 },
    ).catch((err: Error) => {
      throw new Error(`${err.message}: ${JSON.stringify([...messages])}\n${processor.stderr().slice(-2000)}`);
    });

    processor.child.kill('SIGTERM');
    assert.equal(await processor.exited, 0, processor.stderr().slice(-2000));
    subscriber.child.kill('SIGTERM');
    assert.equal(await subscriber.exited, 0, subscriber.stderr().slice(-2000));
  });

  it('names what it cannot bring with its fix: the eBPF loader is built where the package is installed', () => {
    const loader = join(project, 'node_modules', 'meshpipe', 'bpf', 'build', 'meshpipe-loader');
    const doctor = run('npx', ['--no-install', 'meshpipe', 'doctor', '--json'], project, env);
    const checks = JSON.parse(doctor.stdout) as {
      checks: Array<{ name: string; status: string; detail: string; fix?: string }>;
    };
    const bpf = checks.checks.find((c) => c.name === 'bpf-programs')!;
    assert.equal(bpf.status, 'fail');
    assert.equal(bpf.fix?.split(' (')[0], `make -C ${join(project, 'node_modules', 'meshpipe', 'bpf')}`);

    const collect = run('npx', ['--no-install', 'meshpipe', 'collect'], project, env);
    assert.notEqual(collect.status, 0);
    assert.match(collect.stderr, /MESHPIPE_ERR_LOADER_BINARY_MISSING/);
    assert.ok(collect.stderr.includes(loader), collect.stderr);
    assert.match(collect.stderr, /make -C node_modules\/meshpipe\/bpf/);
  });
});
