import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { INFRA, ruleExpressions } from './promql.ts';

const PROMETHEUS_DIR = `${INFRA}prometheus/`;

function promtool(...args: string[]) {
  return spawnSync('promtool', args, { cwd: PROMETHEUS_DIR, encoding: 'utf8' });
}

describe('infra/prometheus checked by promtool', () => {
  it('the scrape configuration and its rule files are valid', () => {
    const r = promtool('check', 'config', 'prometheus.yml');
    assert.equal(r.status, 0, r.stdout + r.stderr);
  });

  it('every rule file is valid', () => {
    const r = promtool(
      'check',
      'rules',
      'rules/meshpipe-red.rules.yml',
      'rules/meshpipe-alerts.rules.yml',
      'rules/meshpipe-slo-alerts.rules.yml',
    );
    assert.equal(r.status, 0, r.stdout + r.stderr);
  });

  it('the rule unit tests pass (recording values, burn-rate and pipeline-loss alerts)', () => {
    const r = promtool('test', 'rules', 'tests/meshpipe-red.test.yml', 'tests/meshpipe-alerts.test.yml');
    assert.equal(r.status, 0, r.stdout + r.stderr);
  });

  it('the test helper finds every rule expression', () => {
    const rules = ruleExpressions();
    assert.equal(rules.filter((r) => !r.alert).length, 18);
    assert.equal(rules.filter((r) => r.alert).length, 5);
    for (const r of rules) assert.ok(r.expr.length > 10, r.origin);
  });
});
