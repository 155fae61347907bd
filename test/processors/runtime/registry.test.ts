import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { s } from '../../../lib/config/spec.ts';
import { ERRORS } from '../../../lib/errors.ts';
import { loadProcessor, validateDefinition } from '../../../processors/runtime/registry.ts';
import { COUNTER_PATH } from './helpers.ts';

const VALID = {
  name: 'ok-proc',
  description: 'A valid definition.',
  inputs: ['spans'],
  outputs: [],
  config: s.object({}, { doc: 'None.' }),
  process() {},
};

describe('processor registry', () => {
  it('loads a processor by path and validates it', async () => {
    const loaded = await loadProcessor(COUNTER_PATH);
    assert.equal(loaded.definition.name, 'counter');
    assert.equal(loaded.builtin, false);
  });

  it('names what is missing: a path, or a built-in', async () => {
    await assert.rejects(loadProcessor('./nowhere/index.ts'), { code: ERRORS.PROCESSOR_NOT_FOUND.code });
    await assert.rejects(loadProcessor('no-such-processor'), { code: ERRORS.PROCESSOR_NOT_FOUND.code });
  });

  it('reports a module that does not import', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'meshpipe-reg-')), 'broken.ts');
    writeFileSync(file, 'export default {{{');
    await assert.rejects(loadProcessor(file), { code: ERRORS.PROCESSOR_LOAD_FAILED.code });
  });

  const invalid: Array<[string, Record<string, unknown>, RegExp]> = [
    ['a name that is not kebab-case', { name: 'My Proc' }, /name must be kebab-case/],
    ['no inputs', { inputs: [] }, /inputs must list at least one topic/],
    ['a config that is not a spec', { config: { windowMs: 5 } }, /config must be a spec/],
    [
      'a config key the host reserves',
      { config: s.object({ enabled: s.boolean({ doc: 'x', default: true }) }, { doc: 'x' }) },
      /"enabled" is reserved/,
    ],
    ['an unknown topic id', { inputs: ['spanz'] }, /topic "spanz" is not a meshpipe topic/],
    [
      'a topic whose schema is nowhere',
      { outputs: [{ suffix: 'x.v1', schema: 'nope' }] },
      /uses schema "nope"/,
    ],
    ['a punctuate without run', { punctuate: { intervalMs: 5 } }, /punctuate must be/],
  ];
  for (const [what, change, message] of invalid) {
    it(`rejects ${what}, naming the problem`, () => {
      assert.throws(
        () => validateDefinition({ ...VALID, ...change }, 'test.ts'),
        (err: Error & { code: string }) => {
          assert.equal(err.code, ERRORS.PROCESSOR_INVALID_DEFINITION.code);
          assert.match(err.message, message);
          return true;
        },
      );
    });
  }
});
