/**
 * What every part of the adapter needs from a client: the brokers, the librdkafka properties made from
 * meshpipe's configuration (security, timeouts, logging), and pino logging of librdkafka's events.
 * KafkaClient (client.ts) adds the factories of the admin, producers and consumers; the parts take a
 * KafkaConnection, so they and the client do not import each other.
 */
import type { EventEmitter } from 'node:events';
import type { KafkaTlsOptions } from '../kafka-tls.ts';
import type { Logger } from '../logger.ts';
import { kafkaError } from './kafka-error.ts';
import { librdkafka } from './librdkafka.ts';

export type SaslMechanism = 'plain' | 'scram-sha-256' | 'scram-sha-512';

export interface SaslOptions {
  mechanism: SaslMechanism;
  username: string;
  password: string;
}

export interface KafkaClientOptions {
  brokers: string[];
  clientId: string;
  /** TLS to the brokers (lib/kafka-tls.ts); absent: plaintext. */
  tls?: KafkaTlsOptions;
  sasl?: SaslOptions;
  logger: Logger;
  /** How long one connection attempt may take, ms (default 10 000). */
  connectionTimeout?: number;
  /** How long an admin request may take, ms (default 30 000). */
  requestTimeout?: number;
}

/** librdkafka properties, as the binding takes them. */
export type Properties = Record<string, string | number | boolean | ((...args: never[]) => unknown)>;

const SASL_MECHANISMS: Record<SaslMechanism, string> = {
  plain: 'PLAIN',
  'scram-sha-256': 'SCRAM-SHA-256',
  'scram-sha-512': 'SCRAM-SHA-512',
};

/**
 * librdkafka's log lines and error events about what it retries by itself: connections refused or
 * lost, a coordinator or leader moving or loading. At error level they would repeat for every broker
 * and attempt while Kafka is away; the caller reports the outage once (the collector, the hosts).
 */
const TRANSIENT =
  /Connection refused|Connect to .* failed|Disconnected|Broker transport failure|all broker connections are down|broker.*down|timed out|Timed out|Failed to resolve|coordinator|not the leader|Leader not available|rebalanc|Broker: Not coordinator|Coordinator load in progress|CONCURRENT_TRANSACTIONS/i;

const TRANSIENT_ERRORS = new Set([
  'ERR__TRANSPORT',
  'ERR__ALL_BROKERS_DOWN',
  'ERR__RESOLVE',
  'ERR__TIMED_OUT',
]);

export class KafkaConnection {
  readonly brokers: readonly string[];
  readonly #options: KafkaClientOptions;
  readonly #logger: Logger;

  constructor(options: KafkaClientOptions) {
    this.#options = options;
    this.brokers = [...options.brokers];
    this.#logger = options.logger.child({ lib: 'librdkafka' });
    librdkafka(); // fail here, with the fix, if the client is not built
  }

  get clientId(): string {
    return this.#options.clientId;
  }

  get requestTimeout(): number {
    return this.#options.requestTimeout ?? 30_000;
  }

  get connectionTimeout(): number {
    return this.#options.connectionTimeout ?? 10_000;
  }

  get logger(): Logger {
    return this.#logger;
  }

  /** The connection, security and logging properties every librdkafka instance here gets. */
  properties(extra: Properties = {}): Properties {
    const o = this.#options;
    const props: Properties = {
      'bootstrap.servers': o.brokers.join(','),
      'client.id': o.clientId,
      'socket.connection.setup.timeout.ms': this.connectionTimeout,
      'socket.keepalive.enable': true,
      // Idle connections closed by the broker are reopened when needed: not worth a log line.
      'log.connection.close': false,
      // Info lines (group joins, every connection) only when pino would print them.
      log_level: this.#logger.isLevelEnabled('debug') ? 6 : 4,
    };
    const protocol = `${o.sasl === undefined ? '' : 'sasl_'}${o.tls === undefined ? 'plaintext' : 'ssl'}`;
    props['security.protocol'] = protocol;
    if (o.tls !== undefined) {
      // PEM in memory, as read (and checked) at start-up; without a CA, the system's.
      if (o.tls.ca !== undefined) props['ssl.ca.pem'] = o.tls.ca.toString('utf8');
      if (o.tls.cert !== undefined) props['ssl.certificate.pem'] = o.tls.cert.toString('utf8');
      if (o.tls.key !== undefined) props['ssl.key.pem'] = o.tls.key.toString('utf8');
      props['enable.ssl.certificate.verification'] = true;
      props['ssl.endpoint.identification.algorithm'] = 'https';
    }
    if (o.sasl !== undefined) {
      props['sasl.mechanisms'] = SASL_MECHANISMS[o.sasl.mechanism];
      props['sasl.username'] = o.sasl.username;
      props['sasl.password'] = o.sasl.password;
    }
    return { ...props, ...extra };
  }

  /** The TLS and SASL settings, for the one request the binding cannot make (describe-configs.ts). */
  get security(): { tls: KafkaTlsOptions | undefined; sasl: SaslOptions | undefined } {
    return { tls: this.#options.tls, sasl: this.#options.sasl };
  }

  /** Routes a librdkafka instance's logs and error events to pino. */
  attachLogging(client: EventEmitter, name: string): void {
    const log = this.#logger.child({ client: name });
    client.on('event.log', (entry: { severity: number; fac: string; message: string }) => {
      let level: 'error' | 'warn' | 'debug' =
        entry.severity <= 3 ? 'error' : entry.severity === 4 ? 'warn' : 'debug';
      if (level !== 'debug' && TRANSIENT.test(entry.message)) level = 'debug';
      log[level]({ facility: entry.fac, severity: entry.severity }, entry.message);
    });
    client.on('event.error', (raw: unknown) => {
      const err = kafkaError(raw);
      if (err.fatal) log.error({ code: err.type }, err.message);
      else if (TRANSIENT_ERRORS.has(err.type) || TRANSIENT.test(err.message))
        log.debug({ code: err.type }, err.message);
      else log.warn({ code: err.type }, err.message);
    });
  }
}
