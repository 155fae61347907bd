import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ERRORS, meshpipeError } from '../../lib/errors.ts';
import { asRecordError, DEAD_LETTER_HEADERS, deadLetterOf } from '../../runtime/dead-letter.ts';

const SOURCE = {
  topic: 'meshpipe.l7.raw.v2',
  partition: 3,
  offset: '1234',
  key: Buffer.from('10.0.0.1:1|10.0.0.2:2'),
  value: Buffer.from([0, 1, 2]),
  timestampMs: 1_796_000_000_123,
  headers: {},
};

describe('dead letters', () => {
  it('keep the record unchanged, the reason, and where it came from (value and headers)', () => {
    const error = asRecordError('span-assembler', new TypeError('boom'), ERRORS.PROCESSOR_HANDLER_FAILED);
    const letter = deadLetterOf('span-assembler', SOURCE, error, 1_796_000_000_500);
    assert.equal(letter.value.errorCode, ERRORS.PROCESSOR_HANDLER_FAILED.code);
    assert.match(letter.value.errorMessage, /span-assembler threw on this record: boom/);
    assert.equal(letter.value.sourceOffset, 1234n);
    assert.equal(letter.value.sourceTimestampMs, 1_796_000_000_123n);
    assert.equal(letter.value.failedAtUnixNano, 1_796_000_000_500_000_000n);
    assert.deepEqual(letter.value.sourceValue, SOURCE.value);
    assert.deepEqual(letter.key, SOURCE.key);
    assert.deepEqual(letter.headers, {
      [DEAD_LETTER_HEADERS.errorCode]: ERRORS.PROCESSOR_HANDLER_FAILED.code,
      [DEAD_LETTER_HEADERS.sourceTopic]: 'meshpipe.l7.raw.v2',
      [DEAD_LETTER_HEADERS.sourcePartition]: '3',
      [DEAD_LETTER_HEADERS.sourceOffset]: '1234',
    });
  });

  it('keep the code of a meshpipe error', () => {
    const decode = meshpipeError('SCHEMA_DECODE_FAILED', 'x', 'truncated');
    assert.equal(asRecordError('p', decode, ERRORS.PROCESSOR_HANDLER_FAILED), decode);
  });

  it("give anything else the component's own code, with the thrown error as the cause", () => {
    const thrown = new RangeError('no such unit');
    const error = asRecordError('otlp', thrown, ERRORS.SINK_RECORD_FAILED);
    assert.equal(error.code, ERRORS.SINK_RECORD_FAILED.code);
    assert.match(error.message, /sink otlp could not prepare a record for export: no such unit/);
    assert.equal(error.cause, thrown);
  });
});
