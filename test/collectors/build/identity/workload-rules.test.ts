import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { globToRegExp, WorkloadRules } from '../../../../collectors/build/identity/workload-rules.ts';
import type { WorkloadRule } from '../../../../collectors/config.ts';

const rule = (r: Partial<WorkloadRule>): WorkloadRule => ({
  pod: null,
  comm: null,
  port: 0,
  workload: null,
  service: null,
  namespace: null,
  ...r,
});

describe('workload rules', () => {
  it('globs: * and ? only, everything else literal', () => {
    assert.ok(globToRegExp('orders-*').test('orders-7d9f'));
    assert.ok(!globToRegExp('orders-*').test('xorders-7d9f'));
    assert.ok(globToRegExp('v?.2').test('v1.2'));
    assert.ok(!globToRegExp('v?.2').test('v1x2'), 'the dot is literal');
    assert.ok(globToRegExp('a(b)+[c]').test('a(b)+[c]'));
  });

  it('first match wins; every given criterion must hold; port asks whether the process serves it', () => {
    const rules = new WorkloadRules([
      rule({ pod: 'orders-*', port: 8080, workload: 'orders', service: 'orders-api', namespace: 'shop' }),
      rule({ pod: 'orders-*', workload: 'orders-other' }),
      rule({ comm: 'nginx', service: 'edge' }),
    ]);
    assert.ok(rules.usesPorts);
    const serves = (ports: number[]) => (p: number) => ports.includes(p);
    assert.deepEqual(rules.match({ pod: 'orders-1', comm: 'node', serves: serves([8080]) }), {
      workload: 'orders',
      service: 'orders-api',
      namespace: 'shop',
    });
    assert.equal(
      rules.match({ pod: 'orders-1', comm: 'node', serves: serves([9090]) })?.workload,
      'orders-other',
    );
    assert.equal(rules.match({ pod: null, comm: 'nginx', serves: serves([]) })?.service, 'edge');
    assert.equal(rules.match({ pod: 'inventory', comm: null, serves: serves([8080]) }), null);
  });

  it('does not look at ports when no rule has one', () => {
    const rules = new WorkloadRules([rule({ comm: 'curl', service: 'cli' })]);
    assert.equal(rules.usesPorts, false);
    assert.equal(
      rules.match({ pod: null, comm: 'curl', serves: () => assert.fail('ports were looked up') })?.service,
      'cli',
    );
  });
});
