import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { connectionKey, endpointText, isLoopback } from '../../../collectors/build/connection-key.ts';

const NETNS = 4026532281;

// [local address, local port, peer address, peer port] → key
const CASES: Array<[string, number, string, number, string]> = [
  ['10.231.0.1', 41234, '10.231.0.2', 8080, '10.231.0.1:41234|10.231.0.2:8080'],
  ['10.231.0.2', 8080, '10.231.0.1', 41234, '10.231.0.1:41234|10.231.0.2:8080'],
  ['fd00::1', 41234, 'fd00::2', 80, '[fd00::1]:41234|[fd00::2]:80'],
  ['fd00::2', 80, 'fd00::1', 41234, '[fd00::1]:41234|[fd00::2]:80'],
  ['127.0.0.1', 41234, '127.0.0.1', 8080, `${NETNS}/127.0.0.1:41234|127.0.0.1:8080`],
  ['127.0.0.1', 8080, '127.0.0.1', 41234, `${NETNS}/127.0.0.1:41234|127.0.0.1:8080`],
  ['::1', 8080, '::1', 41234, `${NETNS}/[::1]:41234|[::1]:8080`],
  ['127.0.0.5', 9, '10.0.0.1', 80, `${NETNS}/10.0.0.1:80|127.0.0.5:9`],
];

describe('connectionKey', () => {
  it('is the sorted endpoints, identical from both ends; loopback carries the namespace', () => {
    for (const [la, lp, pa, pp, key] of CASES) assert.equal(connectionKey(la, lp, pa, pp, NETNS), key);
  });

  it('puts IPv6 addresses in brackets and knows loopback', () => {
    assert.equal(endpointText('::1', 80), '[::1]:80');
    assert.equal(endpointText('10.0.0.1', 80), '10.0.0.1:80');
    assert.ok(isLoopback('127.0.0.1') && isLoopback('127.8.9.10') && isLoopback('::1'));
    assert.ok(!isLoopback('10.0.0.1') && !isLoopback('::2') && !isLoopback('fe80::1'));
  });
});
