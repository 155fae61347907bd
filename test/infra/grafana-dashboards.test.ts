import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { DASHBOARDS, PROMETHEUS_UID, TRACES_UID } from '../../infra/grafana/build-dashboards.ts';
import { DASHBOARD_DIR, dashboardExpressions, dashboards, INFRA, panelsOf } from './promql.ts';

type Json = Record<string, unknown>;
/** `${datasource}`, the dashboards' Prometheus variable. */
const DATASOURCE_VARIABLE = `$${'{'}datasource}`;
const PANEL_TYPES = new Set(['timeseries', 'stat', 'heatmap', 'table', 'nodeGraph', 'bargauge', 'row']);

describe('Grafana dashboards', () => {
  it('the committed JSON is what build-dashboards.ts writes', () => {
    for (const [file, build] of Object.entries(DASHBOARDS)) {
      assert.deepEqual(
        JSON.parse(readFileSync(DASHBOARD_DIR + file, 'utf8')),
        JSON.parse(JSON.stringify(build())),
        file,
      );
    }
    assert.deepEqual(
      dashboards().map((d) => d.file),
      Object.keys(DASHBOARDS).sort(),
    );
  });

  it('are Grafana dashboard models: unique uids, variables, panels with ids, grid positions and targets', () => {
    const uids = new Set<string>();
    for (const { file, json } of dashboards()) {
      assert.equal(typeof json.uid, 'string', file);
      assert.ok(/^[a-zA-Z0-9_-]{1,40}$/.test(json.uid as string), `${file}: uid`);
      assert.ok(!uids.has(json.uid as string), `${file}: duplicate uid`);
      uids.add(json.uid as string);
      assert.equal(typeof json.title, 'string');
      assert.equal(typeof json.schemaVersion, 'number');
      assert.equal(json.id, undefined, `${file}: a provisioned model has no id`);
      const variables = (json.templating as { list: Json[] }).list;
      const names = variables.map((v) => v.name);
      assert.equal(new Set(names).size, names.length, `${file}: duplicate variable`);
      const ds = variables.find((v) => v.name === 'datasource');
      assert.ok(ds !== undefined, `${file}: no datasource variable`);
      assert.deepEqual(
        [ds.type, ds.query, (ds.current as Json).value],
        ['datasource', 'prometheus', PROMETHEUS_UID],
      );
      const ids = new Set<number>();
      for (const p of panelsOf(json)) {
        assert.ok(PANEL_TYPES.has(p.type as string), `${file}: panel type ${p.type as string}`);
        assert.equal(typeof p.id, 'number');
        assert.ok(!ids.has(p.id as number), `${file}: duplicate panel id ${p.id as number}`);
        ids.add(p.id as number);
        const g = p.gridPos as { x: number; y: number; w: number; h: number };
        assert.ok(
          g.x >= 0 && g.w > 0 && g.x + g.w <= 24 && g.h > 0,
          `${file} / ${p.title as string}: gridPos`,
        );
        if (p.type === 'row') continue;
        assert.ok((p.description as string).length > 10, `${file} / ${p.title as string}: description`);
        const targets = p.targets as Json[];
        assert.ok(targets.length > 0, `${file} / ${p.title as string}: no targets`);
        const refIds = targets.map((t) => t.refId);
        assert.equal(new Set(refIds).size, refIds.length, `${file} / ${p.title as string}: refIds`);
        for (const source of [p.datasource, ...targets.map((t) => t.datasource)] as Json[]) {
          // By uid, never by name: names differ between Grafanas, uids are provisioned.
          assert.deepEqual(
            source,
            { type: 'prometheus', uid: DATASOURCE_VARIABLE },
            `${file} / ${p.title as string}`,
          );
        }
        for (const t of targets) assert.ok(typeof t.expr === 'string' && t.expr.length > 0);
      }
    }
  });

  it('every expression parses (promtool check rules on the expressions as recording rules)', () => {
    const expressions = dashboardExpressions({ service: 'gateway' });
    assert.ok(expressions.length > 40, `${expressions.length} expressions`);
    const dir = mkdtempSync(join(tmpdir(), 'meshpipe-dashboards-'));
    try {
      const rules = expressions
        .map((e, i) => `      - record: dashboard_expression_${i}\n        expr: ${JSON.stringify(e.expr)}`)
        .join('\n');
      writeFileSync(join(dir, 'exprs.yml'), `groups:\n  - name: dashboards\n    rules:\n${rules}\n`);
      const r = spawnSync('promtool', ['check', 'rules', join(dir, 'exprs.yml')], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stdout + r.stderr);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('provisioning: the datasources the dashboards and exemplar links use, by uid', () => {
    const ds = readFileSync(`${INFRA}grafana/provisioning/datasources/meshpipe.yml`, 'utf8');
    assert.match(ds, new RegExp(`uid: ${PROMETHEUS_UID}\\n\\s+type: prometheus`));
    assert.match(ds, new RegExp(`uid: ${TRACES_UID}\\n\\s+type: tempo`));
    assert.match(ds, new RegExp(`- name: trace_id\\n\\s+datasourceUid: ${TRACES_UID}`));
    const provider = readFileSync(`${INFRA}grafana/provisioning/dashboards/meshpipe.yml`, 'utf8');
    assert.match(provider, /type: file/);
  });
});
