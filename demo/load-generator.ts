/**
 * Steady HTTP load against the gateway: an open-loop schedule (request k is due at k / rate seconds,
 * whatever the latency), sent over a fixed pool of keep-alive connections. Open loop matters: a closed
 * loop slows down when the service does, which hides exactly the latency a fault injects.
 *
 * When the in-flight limit is reached a due request is skipped (and counted) instead of queued, so a
 * stalled service cannot build an unbounded backlog in the generator.
 */
import http from 'node:http';
import { seededRandom } from '../lib/seeded-random.ts';
import { LatencyWindow } from './latency-window.ts';
import { nextRequest } from './route-mix.ts';
import { formatTraceparent, newSpanId, newTraceId } from './trace-context.ts';

export interface LoadOptions {
  /** Base URL of the gateway, e.g. http://10.240.0.2:8080 */
  target: string;
  /** Requests per second (> 0). */
  rate: number;
  /** Keep-alive connections (default 4). */
  connections?: number;
  /** Stop after this many requests... */
  count?: number;
  /** ...or after this long (ms), whichever comes first; unbounded without both. */
  durationMs?: number;
  /** Start a trace per request and send its traceparent, as an instrumented client would (default true). */
  propagate?: boolean;
  seed?: number;
  /** How often onReport is called (default 1000 ms). */
  reportMs?: number;
  maxInFlight?: number;
  signal?: AbortSignal;
}

export interface LoadStats {
  /** Requests sent (scheduled minus skipped). */
  sent: number;
  /** Answered 2xx/3xx. */
  ok: number;
  /** Answered 4xx: expected, the mix asks for unknown ids on purpose. */
  clientErrors: number;
  /** Answered 5xx. */
  serverErrors: number;
  /** No answer: connection error or timeout. */
  failed: number;
  /** Due but not sent because maxInFlight requests were outstanding. */
  skipped: number;
  inFlight: number;
  /** Client-side duration over the last 1,000 answers. */
  latency: { p50Ms: number | null; p99Ms: number | null };
  elapsedMs: number;
}

export async function runLoad(
  options: LoadOptions,
  onReport: (stats: LoadStats) => void,
): Promise<LoadStats> {
  const rate = options.rate;
  if (!(rate > 0)) throw new Error(`rate must be > 0, got ${rate}`);
  const maxInFlight = options.maxInFlight ?? 256;
  const propagate = options.propagate ?? true;
  const random = seededRandom(options.seed ?? 1);
  const connections = options.connections ?? 4;
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections, maxFreeSockets: connections });
  const latency = new LatencyWindow();
  const counts = { sent: 0, ok: 0, clientErrors: 0, serverErrors: 0, failed: 0, skipped: 0, inFlight: 0 };
  const started = performance.now();
  const stats = (): LoadStats => ({
    ...counts,
    latency: latency.summary(),
    elapsedMs: Math.round(performance.now() - started),
  });

  let allSettled: () => void = () => {};
  const settled = () => {
    if (counts.inFlight === 0) allSettled();
  };

  function send(): void {
    const planned = nextRequest(random);
    const headers: http.OutgoingHttpHeaders = {};
    if (propagate)
      headers.traceparent = formatTraceparent({ traceId: newTraceId(), parentId: newSpanId(), flags: '01' });
    const body = planned.body === undefined ? undefined : Buffer.from(planned.body);
    if (body !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = body.length;
    }
    counts.sent++;
    counts.inFlight++;
    const sentAt = performance.now();
    let done = false;
    const finish = (status: number | undefined) => {
      if (done) return;
      done = true;
      counts.inFlight--;
      if (status === undefined) counts.failed++;
      else {
        latency.add(performance.now() - sentAt);
        if (status >= 500) counts.serverErrors++;
        else if (status >= 400) counts.clientErrors++;
        else counts.ok++;
      }
      settled();
    };
    const req = http.request(
      `${options.target}${planned.path}`,
      { method: planned.method, agent, headers, timeout: 30_000 },
      (res) => {
        // The whole body is part of the exchange (and of its latency): read it to the end.
        res.resume();
        res.once('end', () => finish(res.statusCode));
        res.once('error', () => finish(undefined));
      },
    );
    req.once('timeout', () => req.destroy(new Error('timeout')));
    req.once('error', () => finish(undefined));
    req.end(body);
  }

  const reportTimer = setInterval(() => onReport(stats()), options.reportMs ?? 1000);
  await new Promise<void>((resolve) => {
    let scheduled = 0;
    // Ticks of at most 50 ms (and at least 1 ms); each tick sends whatever became due since the last.
    const tick = setInterval(
      () => {
        const elapsed = performance.now() - started;
        const timeUp = options.durationMs !== undefined && elapsed >= options.durationMs;
        const due = Math.min(
          Math.floor((elapsed * rate) / 1000) + 1,
          options.count ?? Number.POSITIVE_INFINITY,
        );
        while (!timeUp && scheduled < due) {
          scheduled++;
          if (counts.inFlight >= maxInFlight) counts.skipped++;
          else send();
        }
        if (timeUp || scheduled >= (options.count ?? Number.POSITIVE_INFINITY) || options.signal?.aborted) {
          clearInterval(tick);
          resolve();
        }
      },
      Math.max(1, Math.min(50, 1000 / rate)),
    );
  });
  // Sending is over; wait for the answers still on their way (each has its own 30 s timeout), unless
  // we were told to stop: then the outstanding ones are reported as inFlight.
  if (options.signal?.aborted !== true) {
    await new Promise<void>((resolve) => {
      allSettled = resolve;
      options.signal?.addEventListener('abort', () => resolve(), { once: true });
      settled();
    });
  }
  clearInterval(reportTimer);
  agent.destroy();
  return stats();
}
