import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import * as http1 from '../../../protocols/http1/index.ts';
import { bytes, GET_A, RESPONSE_200_A } from './fixtures.ts';

describe('protocols/http1 public surface', () => {
  test('the descriptor builds working stages', () => {
    const framer = http1.HTTP1_PROTOCOL.createFramer();
    const segs = framer.push({
      direction: 'egress',
      role: 'client',
      copied: bytes(GET_A),
      byteCount: GET_A.length,
      chunkTerminator: false,
    });
    const reader = http1.HTTP1_PROTOCOL.createMessageReader();
    const [request] = reader.push(1n, segs);
    const responses = http1.HTTP1_PROTOCOL.createMessageReader().push(
      2n,
      framer.push({
        direction: 'ingress',
        role: 'client',
        copied: bytes(RESPONSE_200_A),
        byteCount: RESPONSE_200_A.length,
        chunkTerminator: false,
      }),
    );
    const pairer = http1.HTTP1_PROTOCOL.createPairer();
    pairer.push(request!);
    const [exchange] = pairer.push(responses[0]!);
    assert.equal(exchange!.complete, true);
    assert.equal(http1.HTTP1_PROTOCOL.name, 'http1');
  });

  test('the descriptor names the schema enum symbol', () => {
    const schema = readFileSync(new URL('../../../schemas/l7-raw-event.avsc', import.meta.url), 'utf8');
    assert.ok(schema.includes(`"${http1.HTTP1_PROTOCOL.schemaSymbol}"`));
  });

  test('every registry place in the folder carries the marker', () => {
    for (const file of [
      'detect.ts',
      'types.ts',
      'framer.ts',
      'message-reader.ts',
      'exchange-pairer.ts',
      'index.ts',
    ]) {
      const src = readFileSync(new URL(`../../../protocols/http1/${file}`, import.meta.url), 'utf8');
      assert.match(src, /\/\/ PROTOCOL-REGISTRY: /, file);
    }
  });
});
