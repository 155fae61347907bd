import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { ERRORS, MeshpipeError, meshpipeError } from '../../lib/errors.ts';
import { PROJECT_ROOT } from '../../lib/paths.ts';

describe('error registry', () => {
  const docs = readFileSync(`${PROJECT_ROOT}/docs/errors.md`, 'utf8');

  it('every code is unique, well formed and documented in docs/errors.md', () => {
    const codes = Object.values(ERRORS).map((e) => e.code);
    assert.equal(new Set(codes).size, codes.length);
    for (const [name, spec] of Object.entries(ERRORS)) {
      assert.equal(spec.code, `MESHPIPE_ERR_${name}`, `${name} has code ${spec.code}`);
      assert.ok(docs.includes(`\`${spec.code}\``), `${spec.code} is not documented in docs/errors.md`);
    }
  });

  it('every docs page a message or hint points at exists', () => {
    for (const spec of Object.values(ERRORS)) {
      for (const page of `${spec.message} ${spec.hint ?? ''}`.match(/docs\/[\w./-]+\.md/g) ?? [])
        assert.ok(
          existsSync(`${PROJECT_ROOT}/${page}`),
          `${spec.code} points at ${page}, which does not exist`,
        );
    }
  });

  it('formats messages and carries code, hint and exit code', () => {
    const err = meshpipeError('CONFIG_UNKNOWN_KEY', 'kafka.x', '');
    assert.ok(err instanceof MeshpipeError);
    assert.equal(err.code, 'MESHPIPE_ERR_CONFIG_UNKNOWN_KEY');
    assert.match(err.message, /"kafka\.x"/);
    assert.ok(err.hint);
    assert.equal(err.exitCode, 78);
  });
});
