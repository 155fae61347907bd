/**
 * Kafka brokers of a test's own, for what the shared one cannot do: a TLS listener, broker settings
 * (a retention check every second), brokers stopped and started (a cluster of several). The local
 * stack's broker (cli/stack/kafka-broker.ts) started in a temporary directory on free ports, and
 * removed with it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  isKafkaAlive,
  KAFKA_MARKER,
  type KafkaBrokerState,
  newClusterId,
  startKafka,
  stopKafka,
} from '../../cli/stack/kafka-broker.ts';
import { isPortFree } from '../../cli/stack/ports.ts';
import { isOurProcess } from '../../lib/local-stack-state.ts';
import { testLogger } from '../../testkit/kafka.ts';

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

/** One node of a test cluster: stopped and started again on the same ports, with the same data. */
export interface TestClusterNode {
  readonly id: number;
  /** Its plaintext listener, `127.0.0.1:port`. */
  readonly address: string;
  /** SIGTERM (a controlled shutdown: leadership moves first) or SIGKILL; resolves once it is gone. */
  stop(how: 'graceful' | 'kill'): Promise<void>;
  /** Starts it again; resolves once it listens (it may still be catching up with its peers). */
  start(): Promise<void>;
}

export interface TestCluster {
  /** Every node's listener (the bootstrap list). */
  brokers: string[];
  nodes: TestClusterNode[];
  node(id: number): TestClusterNode;
  /** Kills every node and removes their data (nothing to shut down cleanly for). */
  stop(): Promise<void>;
}

/**
 * A KRaft cluster of `size` nodes (ids 1..size, each a broker and a controller) for tests that stop and
 * start brokers: the local stack's broker (cli/stack/kafka-broker.ts), one per node, in a
 * temporary directory on free ports. `properties` go to every node (replication factors, min ISR).
 */
export async function startTestCluster(options: {
  size: number;
  properties?: Record<string, string>;
}): Promise<TestCluster> {
  const root = mkdtempSync(join(tmpdir(), 'meshpipe-cluster-'));
  // Below the kernel's ephemeral range (32768 and up): a client's outgoing connection cannot take a
  // stopped node's port before it starts again.
  const taken: number[] = [];
  const free = async () => {
    for (;;) {
      const port = 20_000 + Math.floor(Math.random() * 12_000);
      if (!taken.includes(port) && (await isPortFree(port))) {
        taken.push(port);
        return port;
      }
    }
  };
  const ids = Array.from({ length: options.size }, (_, i) => i + 1);
  const ports = [];
  for (const id of ids) ports.push({ id, port: await free(), controllerPort: await free() });
  const voters = ports.map((p) => `${p.id}@127.0.0.1:${p.controllerPort}`).join(',');
  const clusterId = newClusterId();
  const nodes = ports.map(({ id, port, controllerPort }): TestClusterNode => {
    const dir = join(root, `node-${id}`);
    let state: KafkaBrokerState | undefined;
    return {
      id,
      address: `127.0.0.1:${port}`,
      async start() {
        state = await startKafka({
          preferredPort: port,
          heapMb: 384,
          logger: testLogger,
          dir,
          cluster: { nodeId: id, clusterId, voters, port, controllerPort },
          ...(options.properties === undefined ? {} : { properties: options.properties }),
        });
      },
      async stop(how) {
        if (state === undefined) return;
        if (how === 'graceful') await stopKafka(state);
        else if (isKafkaAlive(state)) {
          process.kill(state.pid, 'SIGKILL');
          const pid = state.pid;
          while (isOurProcess(pid, KAFKA_MARKER)) await sleep(50);
        }
        state = undefined;
      },
    };
  });
  const cluster: TestCluster = {
    brokers: nodes.map((n) => n.address),
    nodes,
    node: (id) => nodes.find((n) => n.id === id)!,
    async stop() {
      await Promise.all(nodes.map((n) => n.stop('kill')));
      rmSync(root, { recursive: true, force: true });
    },
  };
  try {
    // Together: a node of a larger quorum does not listen until a majority of the controllers is up.
    await Promise.all(nodes.map((n) => n.start()));
  } catch (err) {
    await cluster.stop();
    throw err;
  }
  return cluster;
}
