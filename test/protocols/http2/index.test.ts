import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import * as http2 from '../../../protocols/http2/index.ts';
import { concat, FLAG, frame, hex, PREFACE, settings, TYPE } from './fixtures.ts';

describe('protocols/http2 public surface', () => {
  test('the descriptor builds working stages', () => {
    const decoder = http2.HTTP2_PROTOCOL.createConnectionDecoder('client');
    const events = decoder.push(1n, {
      direction: 'egress',
      role: 'client',
      copied: concat(
        PREFACE,
        settings(),
        frame(TYPE.HEADERS, FLAG.END_HEADERS | FLAG.END_STREAM, 1, hex('828684')),
      ),
      byteCount: 24 + 9 + 9 + 3,
      elided: false,
      frameStart: true,
      truncated: false,
    });
    const response = decoder.push(2n, {
      direction: 'ingress',
      role: 'client',
      copied: frame(TYPE.HEADERS, FLAG.END_HEADERS | FLAG.END_STREAM, 1, hex('88')),
      byteCount: 10,
      elided: false,
      frameStart: true,
      truncated: false,
    });
    const pairer = http2.HTTP2_PROTOCOL.createPairer();
    const exchanges = [...events, ...response].flatMap((e) => pairer.push(e));
    assert.equal(exchanges.length, 1);
    assert.equal(exchanges[0]!.complete, true);
    assert.equal(exchanges[0]!.status, 200);
    assert.equal(exchanges[0]!.path, '/');
    const restored = http2.HTTP2_PROTOCOL.restorePairer(JSON.parse(JSON.stringify(pairer.toState())));
    assert.equal(restored.openStreams, 0);
  });

  test('expireOldest ends the lowest stream ids only, even when every stream opened at one instant', () => {
    const pairer = http2.HTTP2_PROTOCOL.createPairer();
    for (const streamId of [5, 1, 3]) {
      pairer.push({
        kind: 'headers',
        tsNs: 10n,
        direction: 'egress',
        sender: 'client',
        streamId,
        endStream: true,
        fields: [
          { name: ':method', value: 'POST' },
          { name: ':path', value: `/s/${streamId}` },
        ],
        unresolved: 0,
        hpackError: null,
        lost: null,
        redactions: 0,
      });
    }
    const ended = pairer.expireOldest(2);
    assert.deepEqual(
      ended.map((x) => [x.streamId, x.complete, x.incompleteReason]),
      [
        [1, false, 'timeout'],
        [3, false, 'timeout'],
      ],
    );
    assert.equal(pairer.openStreams, 1);
    assert.deepEqual(pairer.expireOldest(0), []);
  });

  test('every registry place carries the marker, in the folder and in the kernel', () => {
    for (const file of ['detect.ts', 'types.ts', 'frame-reader.ts', 'stream-pairer.ts', 'index.ts']) {
      const src = readFileSync(new URL(`../../../protocols/http2/${file}`, import.meta.url), 'utf8');
      assert.match(src, /\/\/ PROTOCOL-REGISTRY: /, file);
    }
    const kernel = readFileSync(new URL('../../../bpf/lib/h2.h', import.meta.url), 'utf8');
    assert.match(kernel, /PROTOCOL-REGISTRY: /);
  });

  test('the kernel and user space agree on the start rules', () => {
    assert.equal(http2.detectConnectionStart(PREFACE), 'client-preface');
    assert.equal(http2.detectConnectionStart(settings([[3, 100]])), 'server-settings');
    assert.equal(http2.detectConnectionStart(settings([], true)), 'none', 'an ACK is not a preface');
    assert.equal(http2.detectConnectionStart(new TextEncoder().encode('GET / HTTP/1.1\r\n')), 'none');
    assert.equal(http2.frameChainEnds(concat(settings(), frame(TYPE.PING, 0, 0, new Uint8Array(8)))), true);
    assert.equal(http2.frameChainEnds(frame(TYPE.PING, 0, 0, new Uint8Array(7))), false, 'PING is 8 bytes');
    assert.equal(
      http2.frameChainEnds(frame(TYPE.DATA, 0, 0, new Uint8Array(1))),
      false,
      'DATA needs a stream',
    );
    // The in-kernel constant of the preface word is the preface's first 8 bytes.
    const kernel = readFileSync(new URL('../../../bpf/lib/h2.h', import.meta.url), 'utf8');
    assert.match(kernel, /MP_LE8\('P', 'R', 'I', ' ', '\*', ' ', 'H', 'T'\)/);
    assert.equal(new TextDecoder().decode(http2.CLIENT_PREFACE.subarray(0, 8)), 'PRI * HT');
  });
});
