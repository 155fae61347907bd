/**
 * The three payload formats from one pair of transitions (an SLO burn firing, then resolving): the
 * generic envelope, Slack's text + blocks within Slack's limits, and Alertmanager's postable alerts whose
 * label sets are identical for the firing and the resolved transition (Alertmanager's identity of an
 * alert) while the evidence travels as annotations.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { alertViewOf } from '../../../sinks/alerts/alert-view.ts';
import {
  alertmanagerUrl,
  alertnameOf,
  renderAlertmanager,
} from '../../../sinks/alerts/payloads/alertmanager.ts';
import { renderGeneric } from '../../../sinks/alerts/payloads/generic.ts';
import type { RenderInput } from '../../../sinks/alerts/payloads/payload.ts';
import { renderSlack, SLACK_MAX_ALERTS } from '../../../sinks/alerts/payloads/slack.ts';
import { anomaly } from './helpers.ts';

const AT = 1_800_000_000_000;
const firing = alertViewOf(
  anomaly({
    fingerprint: 'a1b2c3d4e5f60718',
    type: 'SLO_BURN_RATE',
    severity: 'CRITICAL',
    route: null,
    method: null,
    atMs: AT,
    labels: { slo: 'availability', tier: 'fast', burn_rate_long: '39.47', 'long.window': '1h' },
  }),
);
const resolved = alertViewOf(
  anomaly({
    fingerprint: 'a1b2c3d4e5f60718',
    status: 'RESOLVED',
    type: 'SLO_BURN_RATE',
    severity: 'CRITICAL',
    route: null,
    method: null,
    atMs: AT + 300_000,
    labels: { slo: 'availability', tier: 'fast', burn_rate_long: '2.10', 'long.window': '1h' },
  }),
);

function input(items = [firing, resolved]): RenderInput {
  return {
    receiver: 'ops',
    requestKey: 'group-0123',
    items: items.map((alert) => ({ key: `ops.${alert.transitionId}`, alert })),
    externalUrl: 'https://grafana.example.com/',
    nowMs: AT + 400_000,
    validForMs: 240_000,
  };
}

describe('payload formats', () => {
  it('generic: a versioned envelope, each alert with its idempotency key and a link', () => {
    const body = JSON.parse(renderGeneric(input())) as Record<string, unknown> & {
      alerts: Array<Record<string, unknown>>;
    };
    assert.equal(body.version, '1');
    assert.equal(body.source, 'meshpipe');
    assert.equal(body.receiver, 'ops');
    assert.equal(body.requestKey, 'group-0123');
    assert.equal(body.status, 'firing', 'firing while any alert in it fires');
    assert.deepEqual(
      body.alerts.map((a) => [a.idempotencyKey, a.status, a.severity, a.type]),
      [
        [`ops.${firing.transitionId}`, 'firing', 'critical', 'SLO_BURN_RATE'],
        [`ops.${resolved.transitionId}`, 'resolved', 'critical', 'SLO_BURN_RATE'],
      ],
    );
    assert.equal(body.alerts[0]!.url, 'https://grafana.example.com/anomalies/a1b2c3d4e5f60718');
    assert.deepEqual(body.alerts[0]!.evidence, {
      observed: 0.512,
      baseline: 0.004,
      threshold: 0.029,
      unit: 's',
      windowStart: new Date(AT - 60_000).toISOString(),
      windowEnd: new Date(AT).toISOString(),
      exampleTraceIds: ['4bf92f3577b34da6a3ce929d0e0e4736'],
    });
    assert.equal(body.alerts[1]!.endsAt, new Date(AT + 300_000).toISOString());
  });

  it("slack: a fallback text and blocks within Slack's limits", () => {
    const body = JSON.parse(renderSlack(input())) as { text: string; blocks: Array<Record<string, unknown>> };
    assert.match(body.text, /^\[FIRING\] .* \(\+1 more: 1 firing, 1 resolved\)$/);
    assert.equal(body.blocks[0]!.type, 'header');
    const sections = body.blocks.filter((b) => b.type === 'section') as Array<{
      text: { text: string };
      fields: unknown[];
    }>;
    assert.equal(sections.length, 2);
    assert.match(sections[0]!.text.text, /FIRING\* · CRITICAL · `SLO_BURN_RATE`/);
    assert.match(sections[0]!.text.text, /<https:\/\/grafana\.example\.com\/anomalies\/a1b2c3d4e5f60718\|/);
    assert.match(sections[1]!.text.text, /RESOLVED/);
    assert.equal(sections[0]!.fields.length, 4);
    const many = Array.from({ length: SLACK_MAX_ALERTS }, () => firing);
    const big = JSON.parse(renderSlack(input(many))) as { blocks: unknown[] };
    assert.ok(big.blocks.length <= 50, `${big.blocks.length} blocks`);
    const escaped = renderSlack(input([{ ...firing, summary: 'a <b> & c' }]));
    assert.match(escaped, /a &lt;b&gt; &amp; c/);
  });

  it('alertmanager: same labels firing and resolved, evidence as annotations, endsAt per status', () => {
    const [f, r] = JSON.parse(renderAlertmanager(input())) as Array<{
      labels: Record<string, string>;
      annotations: Record<string, string>;
      startsAt: string;
      endsAt: string;
      generatorURL: string;
    }>;
    assert.deepEqual(f!.labels, {
      alertname: 'MeshpipeSloBurnRate',
      severity: 'critical',
      service: 'inventory',
      meshpipe_fingerprint: 'a1b2c3d4e5f60718',
      slo: 'availability',
      tier: 'fast',
    });
    assert.deepEqual(r!.labels, f!.labels, "Alertmanager's identity of the alert");
    assert.equal(f!.annotations.burn_rate_long, '39.47');
    assert.equal(f!.annotations.long_window, '1h', 'label names made valid');
    assert.equal(f!.annotations.idempotency_key, `ops.${firing.transitionId}`);
    assert.equal(f!.startsAt, new Date(AT).toISOString());
    assert.equal(f!.endsAt, new Date(AT + 400_000 + 240_000).toISOString(), 'firing: valid until re-sent');
    assert.equal(r!.endsAt, new Date(AT + 300_000).toISOString(), 'resolved: when it resolved');
    assert.equal(f!.generatorURL, 'https://grafana.example.com/anomalies/a1b2c3d4e5f60718');
    assert.equal(alertnameOf('NEW_STATUS_CLASS'), 'MeshpipeNewStatusClass');
    assert.equal(alertmanagerUrl('http://am:9093/'), 'http://am:9093/api/v2/alerts');
    assert.equal(alertmanagerUrl('http://am:9093/api/v2/alerts'), 'http://am:9093/api/v2/alerts');
  });
});
