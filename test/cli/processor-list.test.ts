import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { builtinProcessorNames } from '../../processors/runtime/registry.ts';
import { runCli } from '../helpers/cli.ts';

interface Row {
  name: string;
  enabled?: boolean;
  inputs?: string[];
  outputs?: string[];
  config?: Array<{ key: string }>;
  error?: unknown;
}

describe('meshpipe processor list', () => {
  it('lists every installed built-in with its topics and configuration keys', async () => {
    const r = await runCli(['processor', 'list', '--json'], { env: { MESHPIPE_TOPIC_PREFIX: 'pfx' } });
    assert.equal(r.code, 0, r.stderr);
    const rows = JSON.parse(r.stdout) as Row[];
    assert.deepEqual(
      rows.map((row) => row.name),
      builtinProcessorNames(),
    );
    for (const row of rows) {
      assert.equal(row.error, undefined, `${row.name} loads`);
      assert.equal(typeof row.enabled, 'boolean', 'whether `up` runs it');
      assert.ok(
        row.inputs!.every((t) => t.startsWith('pfx.')),
        'topic names carry the prefix',
      );
      assert.ok(row.config!.some((c) => c.key === `processors.${row.name}.enabled`));
    }
  });
});
