/**
 * Slack incoming webhooks (https://api.slack.com/messaging/webhooks): `text` is the notification and
 * fallback line, `blocks` the message (Block Kit). Slack's limits shape it: at most 50 blocks per message
 * (we use at most 4 per alert and cap groups at 10 alerts), 3000 characters per section text, 10 fields
 * of 2000 each, 150 for a header. https://api.slack.com/reference/block-kit/blocks
 */
import type { AlertView } from '../alert-view.ts';
import { linkOf, type RenderInput } from './payload.ts';

export const SLACK_MAX_ALERTS = 10;

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** Slack mrkdwn escaping: &, < and > only (https://api.slack.com/reference/surfaces/formatting#escaping). */
function esc(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function value(v: number | null, unit: string): string {
  if (v === null) return 'no data';
  switch (unit) {
    case 's':
      return v < 1 ? `${+(v * 1000).toPrecision(3)} ms` : `${+v.toPrecision(3)} s`;
    case '1':
      return `${+(v * 100).toPrecision(3)}%`;
    case '{request}/s':
      return `${+v.toPrecision(3)} req/s`;
    case '{burn rate}':
      return `${+v.toPrecision(3)}x`;
    default:
      return `${+v.toPrecision(3)} ${unit}`;
  }
}

function marker(alert: AlertView): string {
  if (alert.status === 'resolved') return ':large_green_circle: RESOLVED';
  return alert.severity === 'critical'
    ? ':red_circle: FIRING'
    : alert.severity === 'warning'
      ? ':large_orange_circle: FIRING'
      : ':large_blue_circle: FIRING';
}

function blocksOf(alert: AlertView, externalUrl: string): unknown[] {
  const e = alert.evidence;
  const link = linkOf(externalUrl, alert);
  const title = link === undefined ? esc(alert.summary) : `<${link}|${esc(alert.summary)}>`;
  const section = {
    type: 'section',
    text: {
      type: 'mrkdwn',
      text: clip(
        `*${marker(alert)}* · ${alert.severity.toUpperCase()} · \`${alert.type}\`${alert.test ? ' · test' : ''}\n*${title}*\n${esc(alert.description)}`,
        3000,
      ),
    },
    fields: [
      { type: 'mrkdwn', text: `*Observed*\n${value(e.observed, e.unit)}` },
      { type: 'mrkdwn', text: `*Baseline*\n${value(e.baseline, e.unit)}` },
      { type: 'mrkdwn', text: `*Threshold*\n${value(e.threshold, e.unit)}` },
      { type: 'mrkdwn', text: `*Window*\n${e.windowStart.slice(11, 19)}–${e.windowEnd.slice(11, 19)} UTC` },
    ],
  };
  const context: string[] = [`service \`${esc(alert.service)}\``];
  if (alert.route !== null) context.push(`route \`${esc(`${alert.method ?? ''} ${alert.route}`.trim())}\``);
  if (e.exampleTraceIds.length > 0)
    context.push(
      `traces ${e.exampleTraceIds
        .slice(0, 5)
        .map((t) => `\`${t}\``)
        .join(' ')}`,
    );
  context.push(`fingerprint \`${alert.fingerprint}\``);
  return [
    section,
    { type: 'context', elements: [{ type: 'mrkdwn', text: clip(context.join(' · '), 3000) }] },
    { type: 'divider' },
  ];
}

export function renderSlack(input: RenderInput): string {
  const alerts = input.items.map((i) => i.alert);
  const firing = alerts.filter((a) => a.status === 'firing').length;
  const resolved = alerts.length - firing;
  const counts = [firing > 0 ? `${firing} firing` : '', resolved > 0 ? `${resolved} resolved` : '']
    .filter((x) => x !== '')
    .join(', ');
  const first = alerts[0]!;
  const text = clip(
    `[${first.status.toUpperCase()}] ${first.summary}${alerts.length > 1 ? ` (+${alerts.length - 1} more: ${counts})` : ''}`,
    3000,
  );
  return JSON.stringify({
    text,
    blocks: [
      { type: 'header', text: { type: 'plain_text', text: clip(`meshpipe: ${counts}`, 150) } },
      ...alerts.flatMap((a) => blocksOf(a, input.externalUrl)),
    ],
  });
}
