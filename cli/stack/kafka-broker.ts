/**
 * A single-node Apache Kafka in KRaft mode (combined broker and controller), run straight from the jars
 * scripts/setup fetched from Maven Central, with the machine's Java. Data persists under
 * .local/stack/kafka/data between runs; storage is formatted on the first run only.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ERRORS, MeshpipeError } from '../../lib/errors.ts';
import { canConnect, isOurProcess, SERVICE_MARKERS } from '../../lib/local-stack-state.ts';
import type { Logger } from '../../lib/logger.ts';
import { KAFKA_VERSION, kafkaLibsDir, STACK_DIR } from '../../lib/paths.ts';
import { findJava } from './java.ts';
import { choosePort } from './ports.ts';
import { run, spawnService, stopProcess } from './processes.ts';

export const KAFKA_MARKER = SERVICE_MARKERS.kafka;

export interface KafkaBrokerState {
  pid: number;
  port: number;
  /** The TLS listener's port, when the broker was started with `tls`. */
  tlsPort?: number;
  controllerPort: number;
  version: string;
  logFile: string;
}

export interface StartKafkaOptions {
  preferredPort: number;
  heapMb: number;
  logger: Logger;
  version?: string;
  /** Called with progress text while waiting. */
  progress?: (text: string) => void;
  /** Where its configuration, data and log go (default: the local stack's, .local/stack/kafka). */
  dir?: string;
  /**
   * A second listener speaking TLS (mutual: clients must present a certificate the truststore
   * trusts), from PEM files: `keystore` holds the broker's private key (PKCS#8) and certificate chain,
   * `truststore` the CA certificates. For brokers started by tests and by users who try TLS locally.
   */
  tls?: { keystore: string; truststore: string };
  /** Further broker properties, added last (they override the ones above). */
  properties?: Record<string, string>;
  /**
   * One node of a KRaft cluster of several, each a broker and a controller (tests that stop brokers):
   * its id, the cluster's id (every node's storage is formatted with it), the controller quorum
   * (`id@127.0.0.1:controllerPort,...`) and its ports — exactly these, not the nearest free ones, so that
   * a node started again comes back where its peers and clients know it. Default: a cluster of one.
   */
  cluster?: { nodeId: number; clusterId: string; voters: string; port: number; controllerPort: number };
}

const STACK_KAFKA_DIR = join(STACK_DIR, 'kafka');

export function kafkaJarsInstalled(version: string = KAFKA_VERSION): boolean {
  const libs = kafkaLibsDir(version);
  if (!existsSync(libs)) return false;
  return readdirSync(libs).some((f) => f.startsWith('kafka_') && f.includes(version) && f.endsWith('.jar'));
}

function serverProperties(
  node: { id: number; voters: string },
  port: number,
  controllerPort: number,
  dataDir: string,
  tls: { port: number; keystore: string; truststore: string } | undefined,
  extra: Record<string, string>,
): string {
  const ssl = tls === undefined ? '' : `,SSL://127.0.0.1:${tls.port}`;
  const tlsProperties =
    tls === undefined
      ? ''
      : `ssl.keystore.type=PEM
ssl.keystore.location=${tls.keystore}
ssl.truststore.type=PEM
ssl.truststore.location=${tls.truststore}
ssl.client.auth=required
`;
  return `# Written by meshpipe on every start of the local broker (ports may change between runs).
process.roles=broker,controller
node.id=${node.id}
controller.quorum.voters=${node.voters}
listeners=PLAINTEXT://127.0.0.1:${port}${ssl},CONTROLLER://127.0.0.1:${controllerPort}
advertised.listeners=PLAINTEXT://127.0.0.1:${port}${ssl}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,SSL:SSL,CONTROLLER:PLAINTEXT
${tlsProperties}log.dirs=${dataDir}
num.partitions=1
# Topics are created explicitly (meshpipe topics): a typo in a topic name must not create a topic.
auto.create.topics.enable=false
delete.topic.enable=true
# One node: internal topics cannot be replicated; fewer partitions make first use fast.
offsets.topic.replication.factor=1
offsets.topic.num.partitions=6
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=6
# No reason to wait for more members in a local single-node setup: consumers join at once.
group.initial.rebalance.delay.ms=0
log.retention.check.interval.ms=60000
${Object.entries(extra)
  .map(([k, v]) => `${k}=${v}\n`)
  .join('')}`;
}

const LOG4J = `log4j.rootLogger=WARN, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.server.KafkaServer=INFO
log4j.logger.kafka.server.BrokerServer=INFO
`;

/** The same for Kafka 4.x, which logs through Log4j 2. */
const LOG4J2 = `status = warn
appender.stdout.type = Console
appender.stdout.name = STDOUT
appender.stdout.layout.type = PatternLayout
appender.stdout.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = warn
rootLogger.appenderRef.stdout.ref = STDOUT
logger.broker.name = kafka.server.BrokerServer
logger.broker.level = info
`;

/** A new KRaft cluster id: 22 characters of the base64 alphabet, which Kafka decodes to a 16-byte UUID. */
export function newClusterId(): string {
  return randomUUID().replaceAll('-', '').slice(0, 22);
}

export function isKafkaAlive(state: KafkaBrokerState | undefined): boolean {
  return state !== undefined && isOurProcess(state.pid, KAFKA_MARKER);
}

export async function startKafka(options: StartKafkaOptions): Promise<KafkaBrokerState> {
  const version = options.version ?? KAFKA_VERSION;
  const java = findJava();
  if (!kafkaJarsInstalled(version)) {
    throw new MeshpipeError(ERRORS.SETUP_KAFKA_JARS_MISSING, [version, kafkaLibsDir(version)]);
  }
  const dir = options.dir ?? STACK_KAFKA_DIR;
  const dataDir = join(dir, 'data');
  mkdirSync(dataDir, { recursive: true });
  const cluster = options.cluster;
  const port = cluster?.port ?? (await choosePort(options.preferredPort));
  const controllerPort = cluster?.controllerPort ?? (await choosePort(options.preferredPort + 1, [port]));
  const tls =
    options.tls === undefined
      ? undefined
      : { ...options.tls, port: await choosePort(options.preferredPort + 2, [port, controllerPort]) };
  if (cluster === undefined && port !== options.preferredPort) {
    options.logger.info({ preferred: options.preferredPort, port }, 'kafka port taken, using another');
  }
  const propertiesFile = join(dir, 'server.properties');
  const log4jFile = join(dir, 'log4j.properties');
  const log4j2File = join(dir, 'log4j2.properties');
  const logFile = join(dir, 'kafka.log');
  writeFileSync(
    propertiesFile,
    serverProperties(
      {
        id: cluster?.nodeId ?? 1,
        voters: cluster?.voters ?? `1@127.0.0.1:${controllerPort}`,
      },
      port,
      controllerPort,
      dataDir,
      tls,
      options.properties ?? {},
    ),
  );
  writeFileSync(log4jFile, LOG4J);
  writeFileSync(log4j2File, LOG4J2);
  const classpath = `${kafkaLibsDir(version)}/*`;
  // Kafka 3.x reads the first (reload4j), 4.x the second (Log4j 2); each ignores the other.
  const jvm = [
    `-Dlog4j.configuration=file:${log4jFile}`,
    `-Dlog4j2.configurationFile=${log4j2File}`,
    '-cp',
    classpath,
  ];

  if (!existsSync(join(dataDir, 'meta.properties'))) {
    options.progress?.('formatting Kafka storage (first run)');
    const format = run(
      java.command,
      [
        ...jvm,
        'kafka.tools.StorageTool',
        'format',
        '-t',
        cluster?.clusterId ?? newClusterId(),
        '-c',
        propertiesFile,
      ],
      { cwd: dir, timeoutMs: 120_000 },
    );
    if (!format.ok) {
      throw new MeshpipeError(ERRORS.STACK_START_FAILED, [
        `Kafka ${version}`,
        `storage format failed: ${format.output.trim()}`,
      ]);
    }
  }

  const pid = spawnService(
    java.command,
    [
      `-Xms${Math.min(256, options.heapMb)}m`,
      `-Xmx${options.heapMb}m`,
      '-XX:+UseG1GC',
      '-Djava.awt.headless=true',
      ...jvm,
      KAFKA_MARKER,
      propertiesFile,
    ],
    logFile,
    dir,
  );
  const state: KafkaBrokerState = {
    pid,
    port,
    ...(tls === undefined ? {} : { tlsPort: tls.port }),
    controllerPort,
    version,
    logFile,
  };
  const deadline = Date.now() + 120_000;
  const started = Date.now();
  while (Date.now() < deadline) {
    if (!isOurProcess(pid, KAFKA_MARKER)) {
      throw new MeshpipeError(ERRORS.STACK_START_FAILED, [
        `Kafka ${version}`,
        `the broker exited; see ${logFile}`,
      ]);
    }
    if (await canConnect(port)) return state;
    options.progress?.(
      `waiting for Kafka on 127.0.0.1:${port} (${Math.round((Date.now() - started) / 1000)}s)`,
    );
    await sleep(250);
  }
  await stopProcess(pid, KAFKA_MARKER, 5000);
  throw new MeshpipeError(ERRORS.STACK_START_FAILED, [
    `Kafka ${version}`,
    `not listening after 120 s; see ${logFile}`,
  ]);
}

export async function stopKafka(state: KafkaBrokerState): Promise<void> {
  // A controlled shutdown of a single KRaft node takes a few seconds; give it time to flush cleanly.
  await stopProcess(state.pid, KAFKA_MARKER, 30_000);
}
