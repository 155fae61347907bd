import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createRecordingWriter, readRecording } from '../../lib/recording.ts';
import { toJsonSafe } from '../../schemas/codec.ts';
import { EXACT_NS, RAW_EVENT } from '../helpers/fixtures.ts';

describe('recordings', () => {
  it('write and read back raw events exactly, as a standard Avro container file', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'meshpipe-rec-')), 'capture.avro');
    const writer = createRecordingWriter(path);
    const events = Array.from({ length: 500 }, (_, i) => ({
      ...RAW_EVENT,
      seq: BigInt(i),
      timeUnixNano: EXACT_NS + BigInt(i),
    }));
    for (const e of events) writer.write(e);
    assert.equal(await writer.close(), 500);
    assert.equal(readFileSync(path).subarray(0, 4).toString('latin1'), 'Obj\x01', 'Avro OCF magic');
    const back = [];
    for await (const e of readRecording(path)) back.push(e);
    assert.equal(back.length, 500);
    assert.equal(back[499]!.timeUnixNano, EXACT_NS + 499n);
    assert.deepEqual(toJsonSafe(back[7]), toJsonSafe(events[7]));
  });
});

describe('a recording that cannot be written', () => {
  it('reports the error from close() instead of crashing the process', async () => {
    const writer = createRecordingWriter('/nonexistent-dir/capture.avro');
    writer.write(RAW_EVENT);
    await assert.rejects(writer.close(), /ENOENT/);
  });

  it('write() throws once the file has failed', async () => {
    const writer = createRecordingWriter('/proc/version/not-a-dir.avro');
    await new Promise((r) => setTimeout(r, 50));
    assert.throws(() => writer.write(RAW_EVENT), /ENOTDIR|ENOENT/);
    await assert.rejects(writer.close());
  });
});
