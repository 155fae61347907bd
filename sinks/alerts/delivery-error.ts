/**
 * The error a failed delivery attempt moves its jobs to failed with. BullMQ stores its message as the
 * job's failedReason and hands the error to the worker's backoff strategy, which returns `retryDelayMs`:
 * the delay computed once for the whole request (the receiver's Retry-After, or one draw of jittered
 * backoff), so the transitions of a group come back together and can be grouped again.
 */
export class DeliveryError extends Error {
  readonly retryDelayMs: number;
  readonly status: number | null;

  constructor(message: string, options: { retryDelayMs: number; status: number | null }) {
    super(message);
    this.name = 'DeliveryError';
    this.retryDelayMs = options.retryDelayMs;
    this.status = options.status;
  }
}
