import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ERRORS, isMeshpipeError } from '../../../lib/errors.ts';
import type { RetryPolicy } from '../../../runtime/retry-policy.ts';
import {
  type Exporter,
  type ExportResult,
  failed,
  retryable,
  SUCCESS,
} from '../../../sinks/runtime/exporter.ts';
import { retryDelay, settle, withRetry } from '../../../sinks/runtime/retry.ts';

const FAST: RetryPolicy = {
  initialBackoffMs: 1,
  maxBackoffMs: 4,
  multiplier: 2,
  maxElapsedMs: 0,
  maxRetryAfterMs: 50,
};

/** An exporter that answers from a script, then succeeds; it records every call. */
function scripted(results: ExportResult[]): Exporter<number> & { calls: number[][] } {
  const calls: number[][] = [];
  return {
    calls,
    async export(items) {
      calls.push([...items]);
      return results.shift() ?? SUCCESS;
    },
    async shutdown() {},
  };
}

describe('retryDelay', () => {
  it('uses the delay the receiver named, capped by maxRetryAfterMs', () => {
    const hinted = retryable(new Error('slow down'), 30) as Extract<ExportResult, { code: 'retryable' }>;
    assert.equal(
      retryDelay(1, hinted, FAST, () => 0),
      30,
    );
    const bogus = retryable(new Error('come back tomorrow'), 86_400_000) as Extract<
      ExportResult,
      { code: 'retryable' }
    >;
    assert.equal(retryDelay(1, bogus, FAST), FAST.maxRetryAfterMs);
  });
});

describe('withRetry', () => {
  it('retries retryable results with the same batch until success', async () => {
    const inner = scripted([retryable(new Error('down')), retryable(new Error('down'))]);
    const retries: number[] = [];
    const exporter = withRetry(inner, FAST, { onRetry: ({ attempt }) => retries.push(attempt) });
    assert.deepEqual(await exporter.export([1, 2, 3]), SUCCESS);
    assert.deepEqual(inner.calls, [
      [1, 2, 3],
      [1, 2, 3],
      [1, 2, 3],
    ]);
    assert.deepEqual(retries, [1, 2]);
  });

  it('returns permanent failures at once', async () => {
    const inner = scripted([failed(new Error('invalid'))]);
    const result = await withRetry(inner, FAST).export([1]);
    assert.equal(result.code, 'failed');
    assert.equal(inner.calls.length, 1);
  });

  it('turns a thrown error into a failed result', async () => {
    const throwing: Exporter<number> = {
      export: async () => {
        throw new Error('bug');
      },
      shutdown: async () => {},
    };
    const result = await settle(throwing, [1]);
    assert.equal(result.code, 'failed');
  });

  it('gives up with SINK_RETRIES_EXHAUSTED once maxElapsedMs is spent', async () => {
    const inner = scripted(Array.from({ length: 1000 }, () => retryable(new Error('down'))));
    const result = await withRetry(inner, { ...FAST, maxElapsedMs: 20 }).export([1]);
    assert.equal(result.code, 'failed');
    assert.ok(result.code === 'failed' && isMeshpipeError(result.error, 'SINK_RETRIES_EXHAUSTED'));
    assert.equal(
      result.code === 'failed' && (result.error as { code: string }).code,
      ERRORS.SINK_RETRIES_EXHAUSTED.code,
    );
  });

  it('stops waiting when aborted and hands back the retryable result (nothing is committed)', async () => {
    const inner = scripted(Array.from({ length: 1000 }, () => retryable(new Error('down'), 60_000)));
    const abort = new AbortController();
    const pending = withRetry(inner, { ...FAST, maxRetryAfterMs: 60_000 }, { signal: abort.signal }).export([
      1,
    ]);
    setTimeout(() => abort.abort(), 20);
    const result = await pending;
    assert.equal(result.code, 'retryable');
    assert.equal(inner.calls.length, 1);
  });
});
