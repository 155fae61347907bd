/**
 * `meshpipe sink new`: the scaffolded sink type-checks, its own test passes, and it runs as generated
 * with `meshpipe sink <path>` against the real Kafka, writing the spans it receives to its JSON-lines
 * file.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { scaffoldSink } from '../../cli/sink-scaffold.ts';
import { PROJECT_ROOT } from '../../lib/paths.ts';
import type { TestKafka } from '../../testkit/kafka.ts';
import { makeTraces, produceSpans, QUICK, sinkKafka } from '../../testkit/span-traffic.ts';
import { CLI, startCli } from '../helpers/cli.ts';
import { waitFor } from '../helpers/wait.ts';

function meshpipe(args: string[], cwd: string) {
  return spawnSync(process.execPath, [CLI, ...args], {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, MESHPIPE_LOG_LEVEL: 'warn' },
    timeout: 60_000,
  });
}

/** `node --test <file>` in `cwd`, reporting as TAP. */
function nodeTest(file: string, cwd: string) {
  // Without NODE_TEST_CONTEXT (set by the runner running this file) the child reports normally.
  const { NODE_TEST_CONTEXT: _, ...env } = process.env;
  return spawnSync(process.execPath, ['--test', '--test-reporter=tap', file], {
    cwd,
    env,
    encoding: 'utf8',
    timeout: 60_000,
  });
}

describe('meshpipe sink new', { timeout: 240_000 }, () => {
  let k: TestKafka;
  let dir: string;
  let files: string[];

  before(async () => {
    k = await sinkKafka('sink-new');
    dir = mkdtempSync(join(tmpdir(), 'meshpipe-sink-new-'));
    // A project of ES modules, as meshpipe's own and any TypeScript project on Node today.
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: 'module', private: true }));
    const scaffold = scaffoldSink({
      name: 'span-file',
      dir: join(dir, 'sinks'),
      testDir: join(dir, 'test', 'span-file'),
      imports: 'checkout',
    });
    for (const f of scaffold) {
      mkdirSync(dirname(f.path), { recursive: true });
      writeFileSync(f.path, f.content);
    }
    files = scaffold.map((f) => f.path);
  });
  after(async () => {
    await k.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it('type-checks with the project’s compiler settings, and its own test passes as generated', () => {
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        extends: join(PROJECT_ROOT, 'tsconfig.json'),
        compilerOptions: { typeRoots: [join(PROJECT_ROOT, 'node_modules', '@types')] },
        include: files,
      }),
    );
    const tsc = spawnSync(
      process.execPath,
      [join(PROJECT_ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(dir, 'tsconfig.json')],
      { encoding: 'utf8', timeout: 180_000 },
    );
    assert.equal(tsc.status, 0, tsc.stdout + tsc.stderr);

    const tested = nodeTest(files.at(-1)!, dir);
    assert.equal(tested.status, 0, tested.stdout + tested.stderr);
    assert.match(tested.stdout, /# pass 2/);
  });

  it('runs as generated with `meshpipe sink <path>`: the spans it receives land in its file', async () => {
    const out = join(dir, 'spans.jsonl');
    const config = join(dir, 'meshpipe.json');
    writeFileSync(config, JSON.stringify({ sinks: { 'span-file': QUICK } }));
    const spans = makeTraces(10, 3);
    const running = startCli(['sink', files[0]!, '--path', out, '--json'], {
      ...k.env,
      MESHPIPE_CONFIG: config,
    });
    try {
      await waitFor('the sink to join its group', () => running.lines.some((l) => l.state !== 'starting'), {
        timeoutMs: 60_000,
      });
      await produceSpans(k, spans);
      const lines = () =>
        existsSync(out)
          ? readFileSync(out, 'utf8')
              .split('\n')
              .filter((l) => l !== '')
          : [];
      await waitFor('every span in the file', () => lines().length >= spans.length, { timeoutMs: 60_000 });
      const written = lines().map((l) => JSON.parse(l) as { spanId: string; startTimeUnixNano: string });
      assert.deepEqual(written.map((s) => s.spanId).sort(), spans.map((s) => s.spanId).sort());
      // Avro longs are BigInts: written as exact decimal strings.
      assert.equal(
        written[0]!.startTimeUnixNano,
        String(spans.find((s) => s.spanId === written[0]!.spanId)!.startTimeUnixNano),
      );
    } finally {
      running.child.kill('SIGTERM');
    }
    assert.equal(await running.exited, 0, running.stderr());
  });

  it('outside a checkout it imports from meshpipe; it never overwrites, and refuses bad names', () => {
    const cwd = mkdtempSync(join(tmpdir(), 'meshpipe-sink-new-cli-'));
    const created = meshpipe(['sink', 'new', 'ducks', '--json'], cwd);
    assert.equal(created.status, 0, created.stderr);
    const { files: shown, sink } = JSON.parse(created.stdout) as { files: string[]; sink: string };
    assert.deepEqual(shown, [
      'sinks/ducks/sink.ts',
      'sinks/ducks/config.ts',
      'sinks/ducks/exporter.ts',
      'test/sinks/ducks/exporter.test.ts',
    ]);
    assert.match(
      readFileSync(join(cwd, sink), 'utf8'),
      /^import \{ defineSink, toJsonSafe \} from 'meshpipe';$/m,
    );
    const again = meshpipe(['sink', 'new', 'ducks'], cwd);
    assert.equal(again.status, 73);
    assert.match(again.stderr, /MESHPIPE_ERR_SINK_SCAFFOLD_EXISTS/);
    for (const bad of ['My_Sink', 'otlp']) {
      const r = meshpipe(['sink', 'new', bad], cwd);
      assert.equal(r.status, 64, bad);
      assert.match(r.stderr, /MESHPIPE_ERR_CLI_BAD_ARGUMENTS/);
    }
    rmSync(cwd, { recursive: true, force: true });
  });
});
