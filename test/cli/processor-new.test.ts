import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createRecordingWriter } from '../../lib/recording.ts';
import { rawEvent } from '../../processors/runtime/test-events.ts';
import { CLI, jsonLines } from '../helpers/cli.ts';

function meshpipe(args: string[], cwd: string) {
  return spawnSync(process.execPath, [CLI, ...args], {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, MESHPIPE_LOG_LEVEL: 'warn' },
    timeout: 60_000,
  });
}

describe('meshpipe processor new', () => {
  it('scaffolds a processor whose own test passes as generated, and that replays a recording', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'meshpipe-new-'));
    const created = meshpipe(['processor', 'new', 'web-traffic', '--json'], cwd);
    assert.equal(created.status, 0, created.stderr);
    const { files, index, test } = JSON.parse(created.stdout) as {
      files: string[];
      index: string;
      test: string;
    };
    assert.deepEqual(files, [
      'processors/web-traffic/index.ts',
      'processors/web-traffic/config.ts',
      'processors/web-traffic/topics.ts',
      'processors/web-traffic/handler.ts',
      'processors/web-traffic/web-traffic.avsc',
      'test/processors/web-traffic/handler.test.ts',
    ]);

    // Without NODE_TEST_CONTEXT (set by the runner running this file) the child reports normally.
    const { NODE_TEST_CONTEXT: _, ...env } = process.env;
    const tested = spawnSync(process.execPath, ['--test', '--test-reporter=tap', test], {
      cwd,
      env,
      encoding: 'utf8',
      timeout: 60_000,
    });
    assert.equal(tested.status, 0, tested.stdout + tested.stderr);
    assert.match(tested.stdout, /# pass 1/);

    const recording = join(cwd, 'capture.avro');
    const writer = createRecordingWriter(recording);
    writer.write(rawEvent({ service: 'orders', direction: 'INGRESS', head: 'GET / HTTP/1.1\r\n\r\n' }));
    await writer.close();
    const replayed = meshpipe(['replay', recording, '--processor', index, '--json'], cwd);
    assert.equal(replayed.status, 0, replayed.stderr);
    const [summary] = jsonLines(replayed.stdout) as Array<{
      topic: string;
      value: { service: string; messages: string };
    }>;
    assert.equal(summary!.topic, 'meshpipe.web-traffic.v1');
    assert.deepEqual([summary!.value.service, summary!.value.messages], ['orders', '1']);
  });

  it('never overwrites, and refuses names that are not kebab-case', () => {
    const cwd = mkdtempSync(join(tmpdir(), 'meshpipe-new-'));
    assert.equal(meshpipe(['processor', 'new', 'twice'], cwd).status, 0);
    const before = readFileSync(join(cwd, 'processors/twice/handler.ts'), 'utf8');
    const again = meshpipe(['processor', 'new', 'twice'], cwd);
    assert.equal(again.status, 73);
    assert.match(again.stderr, /MESHPIPE_ERR_PROCESSOR_SCAFFOLD_EXISTS/);
    assert.equal(readFileSync(join(cwd, 'processors/twice/handler.ts'), 'utf8'), before);
    const bad = meshpipe(['processor', 'new', 'My_Proc'], cwd);
    assert.equal(bad.status, 64);
    assert.equal(existsSync(join(cwd, 'processors/My_Proc')), false);
  });
});
