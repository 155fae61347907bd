/**
 * The `meshpipe up` status line: one part per component, its state as a symbol and, on a colour
 * terminal, a colour. Yellow is `degraded` — working, but losing records or retrying — so it is worth a
 * look: the collector turns degraded only when records are lost, never for records that arrived
 * truncated (flagged, counted apart: docs/collector.md, "Drop accounting").
 */
import type { ComponentStatus } from '../lib/component-status.ts';

const RESET = '\x1b[0m';

const STYLE: Record<ComponentStatus['state'], { symbol: string; colour: string | null }> = {
  starting: { symbol: '…', colour: null },
  ok: { symbol: '✓', colour: '\x1b[32m' },
  degraded: { symbol: '!', colour: '\x1b[33m' },
  failed: { symbol: '✗', colour: '\x1b[31m' },
};

/** `collector ✓ 1.2k ev/s, 0 dropped`, coloured by state when `colour`. */
export function componentPart(name: string, status: ComponentStatus, colour: boolean): string {
  const style = STYLE[status.state];
  const text = `${name} ${style.symbol} ${status.summary}`;
  return colour && style.colour !== null ? `${style.colour}${text}${RESET}` : text;
}

/** Colour on a terminal, unless NO_COLOR is set (https://no-color.org). */
export function colourWanted(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): boolean {
  return stream.isTTY === true && (env.NO_COLOR ?? '') === '';
}
