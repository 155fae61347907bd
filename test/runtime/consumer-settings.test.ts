import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ERRORS, isMeshpipeError } from '../../lib/errors.ts';
import { checkConsumerSettings } from '../../runtime/consumer-settings.ts';

describe('checkConsumerSettings', () => {
  it('accepts a heartbeat shorter than the session', () => {
    checkConsumerSettings('sinks.otlp.runtime', { heartbeatIntervalMs: 3_000, sessionTimeoutMs: 30_000 });
  });

  it('refuses a heartbeat as long as the session, naming the full key', () => {
    assert.throws(
      () =>
        checkConsumerSettings('processors.span-assembler.runtime', {
          heartbeatIntervalMs: 30_000,
          sessionTimeoutMs: 30_000,
        }),
      (err) =>
        isMeshpipeError(err) &&
        err.code === ERRORS.CONFIG_INVALID_VALUE.code &&
        err.message.includes('processors.span-assembler.runtime.heartbeatIntervalMs'),
    );
  });
});
