import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, it } from 'node:test';
import { DEFAULT_LOADER_BINARY } from '../../../../collectors/capture/loader/loader-process.ts';
import { DropReason, LAYOUT } from '../../../../collectors/capture/loader/record-layout.ts';

describe('record layout mirror (collectors/capture/loader/record-layout.ts vs bpf/include/meshpipe_abi.h)', () => {
  it('equals what the compiler says: `meshpipe-loader --layout`', () => {
    assert.ok(existsSync(DEFAULT_LOADER_BINARY), `${DEFAULT_LOADER_BINARY} is missing: run \`make -C bpf\``);
    const fromC = JSON.parse(execFileSync(DEFAULT_LOADER_BINARY, ['--layout'], { encoding: 'utf8' }));
    assert.deepStrictEqual(fromC, LAYOUT);
  });

  it('has no implicit padding: every struct is exactly covered by its fields', () => {
    for (const [name, struct] of Object.entries(LAYOUT.structs)) {
      let end = 0;
      for (const [field, { offset, size }] of Object.entries(struct.fields)) {
        assert.equal(offset, end, `${name}.${field} starts at ${offset}, previous field ended at ${end}`);
        end = offset + size;
      }
      assert.equal(end, struct.size, `${name} has ${struct.size - end} bytes of tail padding`);
      assert.equal(struct.size % 8, 0, `${name} is not a multiple of 8 bytes`);
    }
  });

  it('numbers drop reasons densely from 0, as indexes of the per-CPU counter array', () => {
    const codes = Object.entries(DropReason)
      .filter(([name]) => name !== '_MAX')
      .map(([, code]) => code)
      .sort((a, b) => a - b);
    assert.deepStrictEqual(
      codes,
      codes.map((_, i) => i),
    );
    assert.equal(DropReason._MAX, codes.length);
    assert.equal(LAYOUT.structs.mp_stats_record.fields.kernel_drops.size, 8 * codes.length);
  });
});
