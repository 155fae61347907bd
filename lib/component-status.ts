/**
 * How a component (collector, processor, sink) running under `meshpipe up` reports its health to the
 * supervisor: a small message over the IPC channel Node opens for forked children. Outside `up` there is
 * no channel and reporting costs nothing.
 */
export interface ComponentStatus {
  /** ok: working; starting: not yet ready; degraded: working with losses or retries; failed: not working. */
  state: 'starting' | 'ok' | 'degraded' | 'failed';
  /** A short summary for the status line, e.g. `1.2k ev/s, 0 dropped`. */
  summary: string;
  /** Counters for `meshpipe up --json`. */
  counters?: Record<string, number>;
}

export interface StatusMessage {
  type: 'meshpipe-status';
  status: ComponentStatus;
}

export function reportStatus(status: ComponentStatus): void {
  if (typeof process.send !== 'function' || !process.connected) return;
  const message: StatusMessage = { type: 'meshpipe-status', status };
  process.send(message, undefined, undefined, () => {
    // The supervisor may be gone (shutting down); status is best effort.
  });
}

export function isStatusMessage(value: unknown): value is StatusMessage {
  return (
    typeof value === 'object' && value !== null && (value as { type?: unknown }).type === 'meshpipe-status'
  );
}
