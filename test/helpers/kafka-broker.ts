/**
 * A Kafka broker of a test's own, for what the shared one cannot do: a TLS listener, broker settings
 * (a retention check every second). The local stack's broker (lib/local-stack/kafka-broker.ts) started
 * in a temporary directory on free ports, and removed with it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type KafkaBrokerState, startKafka, stopKafka } from '../../lib/local-stack/kafka-broker.ts';
import { testLogger } from './kafka.ts';

export interface TestBroker {
  state: KafkaBrokerState;
  /** The plaintext listener. */
  brokers: string[];
  /** The TLS listener, when started with `tls`. */
  tlsBrokers: string[];
  stop(): Promise<void>;
}

export async function startTestBroker(
  options: { tls?: { keystore: string; truststore: string }; properties?: Record<string, string> } = {},
): Promise<TestBroker> {
  const dir = mkdtempSync(join(tmpdir(), 'meshpipe-broker-'));
  const state = await startKafka({
    // A random port far from the local stack's; choosePort moves on if it is taken.
    preferredPort: 20_000 + Math.floor(Math.random() * 20_000),
    heapMb: 384,
    logger: testLogger,
    dir,
    ...(options.tls === undefined ? {} : { tls: options.tls }),
    ...(options.properties === undefined ? {} : { properties: options.properties }),
  });
  return {
    state,
    brokers: [`127.0.0.1:${state.port}`],
    tlsBrokers: state.tlsPort === undefined ? [] : [`127.0.0.1:${state.tlsPort}`],
    async stop() {
      await stopKafka(state);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
