/**
 * What a running sink tells the supervisor (`meshpipe up`'s status line) and `meshpipe sink --json`:
 * one ComponentStatus derived from a snapshot of the host. Degraded means working with trouble —
 * retrying, paused by backpressure, or dead-lettering — so an operator sees a receiver outage at once.
 */
import type { ComponentStatus } from '../../lib/component-status.ts';
import type { SinkTotals } from './sink-metrics.ts';

export interface SinkSnapshot {
  /** The consumer joined its group and has an assignment. */
  ready: boolean;
  /** Consumption is paused by backpressure. */
  paused: boolean;
  /** Records in memory: batching, queued and in flight. */
  buffered: number;
  /** Owned input partitions. */
  partitions: number[];
  /** Set while the in-flight batch is being retried. */
  retrying: { attempts: number; sinceMs: number; errorType: string; error: string } | null;
  /** Records not yet committed on owned partitions, as of the last metrics tick (null: not known yet). */
  lag: number | null;
  totals: SinkTotals;
  /** A fatal error stopped the sink. */
  fatal: string | null;
}

function count(n: number): string {
  return n >= 10_000 ? `${(n / 1000).toFixed(0)}k` : n >= 1000 ? `${(n / 1000).toFixed(1)}k` : String(n);
}

/**
 * `previous` is the snapshot of the last report: rates and "dead-lettering now" come from the
 * difference, so a dead letter an hour ago does not keep the sink degraded.
 */
export function sinkStatus(
  now: SinkSnapshot,
  previous: SinkSnapshot | undefined,
  elapsedMs: number,
  unit: string,
): ComponentStatus {
  const counters = {
    ...now.totals,
    buffered: now.buffered,
    paused: now.paused ? 1 : 0,
    ...(now.lag === null ? {} : { lag: now.lag }),
  };
  if (now.fatal !== null) return { state: 'failed', summary: now.fatal, counters };
  if (!now.ready) return { state: 'starting', summary: 'joining the consumer group', counters };
  const exportedNow = now.totals.exported - (previous?.totals.exported ?? now.totals.exported);
  const rate = elapsedMs > 0 ? (exportedNow * 1000) / elapsedMs : 0;
  const parts = [`${count(Math.round(rate))} ${unit}/s`, `${count(now.totals.exported)} exported`];
  const deadLetteredNow = now.totals.deadLettered - (previous?.totals.deadLettered ?? 0);
  if (now.totals.deadLettered > 0) parts.push(`${count(now.totals.deadLettered)} dead-lettered`);
  if (now.lag !== null && now.lag > 0) parts.push(`lag ${count(now.lag)}`);
  const lostNow = now.totals.lost - (previous?.totals.lost ?? 0);
  if (now.totals.lost > 0) parts.push(`${count(now.totals.lost)} lost (retention)`);
  if (now.retrying !== null) {
    const seconds = Math.round((Date.now() - now.retrying.sinceMs) / 1000);
    parts.push(`retrying ${now.retrying.errorType} for ${seconds}s (${now.retrying.attempts} attempts)`);
  }
  if (now.paused) parts.push('paused');
  const degraded = now.retrying !== null || now.paused || deadLetteredNow > 0 || lostNow > 0;
  return { state: degraded ? 'degraded' : 'ok', summary: parts.join(', '), counters };
}
