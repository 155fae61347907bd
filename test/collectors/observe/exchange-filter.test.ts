import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compileExchangeFilter } from '../../../collectors/observe/exchange-filter.ts';
import type { ExchangeRow } from '../../../collectors/observe/exchange-view.ts';
import { isMeshpipeError } from '../../../lib/errors.ts';

const ROW: ExchangeRow = {
  timeUnixNano: 1_796_000_000_000_000_000n,
  node: 'n',
  side: 'server',
  pod: 'orders-1',
  service: 'orders',
  namespace: null,
  process: { pid: 4242, comm: 'node' },
  local: { address: '10.0.0.2', port: 8080 },
  peer: { address: '10.0.0.1', port: 51234, pod: 'gateway-1' },
  method: 'GET',
  path: '/api/orders/7',
  target: '/api/orders/7',
  status: 503,
  latencyMs: 1.5,
  requestBytes: 80,
  responseBytes: 120,
  complete: true,
  incompleteReason: null,
  connection: '10.0.0.1:51234|10.0.0.2:8080',
};

// filters → matches ROW?
const CASES: Array<[string[], boolean]> = [
  [[], true],
  [['pod=orders-*'], true],
  [['pod=gateway-*'], true],
  [['pod=inventory'], false],
  [['service=ord*'], true],
  [['process=node'], true],
  [['process=4242'], true],
  [['process=curl'], false],
  [['port=8080'], true],
  [['port=51234'], true],
  [['port=9090'], false],
  [['method=get'], true],
  [['method=POST'], false],
  [['status=5xx'], true],
  [['status=503'], true],
  [['status=4xx'], false],
  [['status=4xx', 'status=5xx'], true],
  [['pod=orders-1', 'status=5xx'], true],
  [['pod=orders-1', 'status=2xx'], false],
];

const BAD = ['pod', '=x', 'pod=', 'colour=red', 'port=0', 'port=x', 'status=6xx', 'status=20', 'method=G-T'];

describe('observe filters', () => {
  it('same key: either; different keys: all', () => {
    for (const [filters, expected] of CASES)
      assert.equal(compileExchangeFilter(filters).matches(ROW), expected, filters.join(' '));
  });

  it('narrows the kernel capture to the ports asked for', () => {
    assert.deepEqual(compileExchangeFilter(['port=8080', 'port=9090', 'pod=x']).ports, [8080, 9090]);
  });

  it('rejects what it cannot understand with COLLECTOR_BAD_FILTER', () => {
    for (const expr of BAD) {
      assert.throws(
        () => compileExchangeFilter([expr]),
        (err: unknown) => isMeshpipeError(err, 'COLLECTOR_BAD_FILTER'),
        expr,
      );
    }
  });
});
