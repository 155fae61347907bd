/**
 * The state machine that turns per-window verdicts into firing/resolved transitions without flapping:
 *
 *            breach                     breach × fireWindows (consecutive)
 *     ok ───────────────► pending ─────────────────────────────────────► firing ──┐
 *      ▲   clear/dead band   │                                             │      │ breach or dead band:
 *      └─────────────────────┘                                             │      │ clears reset to 0
 *      ▲                     clear × resolveWindows (consecutive)          │ ◄────┘
 *      └───────────────────────────────────────────────────────────────────┘
 *
 * Two thresholds make the verdicts: beyond the fire threshold is a breach, back within the resolve
 * threshold is clear, in between is the dead band — it neither starts nor ends an anomaly. Alertmanager's
 * `for:` gives rules the first half of this (N windows to fire); the second half (M windows and a lower
 * threshold to resolve) is what keeps a value hovering around one line from paging twice a minute.
 */

export type Verdict = 'breach' | 'deadband' | 'clear';

export type Phase = 'ok' | 'pending' | 'firing';

export interface CheckState {
  phase: Phase;
  /** Consecutive breaches (ok/pending). */
  breaches: number;
  /** Consecutive clear windows while firing. */
  clears: number;
  /** Windows since it fired. */
  firingWindows: number;
  /** Start of the window it fired in, ms (firing only). */
  firedAtMs: number | null;
}

export interface HysteresisOptions {
  fireWindows: number;
  resolveWindows: number;
}

export function initialCheck(): CheckState {
  return { phase: 'ok', breaches: 0, clears: 0, firingWindows: 0, firedAtMs: null };
}

/** Advances `state` by one window's verdict (in place); returns the transition it made, if any. */
export function stepCheck(
  state: CheckState,
  verdict: Verdict,
  options: HysteresisOptions,
): 'FIRING' | 'RESOLVED' | undefined {
  if (state.phase === 'firing') {
    state.firingWindows++;
    if (verdict !== 'clear') {
      state.clears = 0;
      return undefined;
    }
    state.clears++;
    if (state.clears < options.resolveWindows) return undefined;
    Object.assign(state, initialCheck());
    return 'RESOLVED';
  }
  if (verdict !== 'breach') {
    state.phase = 'ok';
    state.breaches = 0;
    return undefined;
  }
  state.breaches++;
  if (state.breaches < options.fireWindows) {
    state.phase = 'pending';
    return undefined;
  }
  state.phase = 'firing';
  state.breaches = 0;
  state.clears = 0;
  state.firingWindows = 0;
  return 'FIRING';
}

/** Verdict of a value against increase thresholds. */
export function verdictAbove(value: number, t: { fire: number; resolve: number }): Verdict {
  if (value > t.fire) return 'breach';
  return value <= t.resolve ? 'clear' : 'deadband';
}

/** Verdict of a value against decrease thresholds. */
export function verdictBelow(value: number, t: { fire: number; resolve: number }): Verdict {
  if (value < t.fire) return 'breach';
  return value >= t.resolve ? 'clear' : 'deadband';
}
