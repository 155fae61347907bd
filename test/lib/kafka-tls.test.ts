/**
 * Kafka over TLS with client certificates (kafka.tls.{ca,cert,key}), against a real broker with a TLS
 * listener that requires a client certificate (ssl.client.auth=required), its keys made here with
 * openssl: the CLI creates topics and tails a record through it; a broker signed by another CA, or a
 * client without a certificate, is refused; a bad TLS configuration is an error naming its key.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../../lib/config/load.ts';
import { ERRORS } from '../../lib/errors.ts';
import { connectAdmin, createKafka, kafkaOptionsFrom } from '../../lib/kafka.ts';
import { codecFor } from '../../schemas/codec.ts';
import { TOPICS, topicName } from '../../schemas/topics.ts';
import { SPAN } from '../../testkit/fixtures.ts';
import { testLogger } from '../../testkit/kafka.ts';
import { jsonLines, runCli } from '../helpers/cli.ts';
import { startTestBroker, type TestBroker } from '../helpers/kafka-broker.ts';
import { makePki, type Pki } from '../helpers/pki.ts';

describe('Kafka over TLS with a client certificate', () => {
  let dir: string;
  let pki: Pki;
  let otherCa: Pki;
  let broker: TestBroker;
  const prefix = `tls-${process.pid}`;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'meshpipe-kafka-tls-'));
    mkdirSync(join(dir, 'pki'));
    mkdirSync(join(dir, 'other'));
    pki = makePki(join(dir, 'pki'));
    otherCa = makePki(join(dir, 'other'));
    // Kafka's PEM key store: the private key (PKCS#8) and the certificate chain in one file.
    const keystore = join(dir, 'broker-keystore.pem');
    writeFileSync(keystore, `${readFileSync(pki.serverKey, 'utf8')}${readFileSync(pki.serverCert, 'utf8')}`);
    writeFileSync(join(dir, 'meshpipe.json'), '{}');
    broker = await startTestBroker({ tls: { keystore, truststore: pki.ca } });
  });
  after(async () => {
    await broker?.stop();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  const env = (tls: Record<string, string>) => ({
    MESHPIPE_KAFKA_BROKERS: broker.tlsBrokers.join(','),
    MESHPIPE_TOPIC_PREFIX: prefix,
    MESHPIPE_CONFIG: join(dir, 'meshpipe.json'),
    ...tls,
  });
  const mutual = () => ({
    MESHPIPE_KAFKA_TLS_CA: pki.ca,
    MESHPIPE_KAFKA_TLS_CERT: pki.clientCert,
    MESHPIPE_KAFKA_TLS_KEY: pki.clientKey,
  });

  it('creates the topics, produces and tails a record over the TLS listener', async () => {
    const topics = await runCli(['topics', '--json'], { env: env(mutual()), timeoutMs: 90_000 });
    assert.equal(topics.code, 0, topics.stderr);
    assert.ok((JSON.parse(topics.stdout) as { ok: boolean }).ok);

    // The library path: the same configuration keys, from the environment.
    const { config } = loadConfig({ env: env(mutual()), cwd: dir });
    const kafka = createKafka(kafkaOptionsFrom(config, testLogger));
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({
      topic: topicName(TOPICS.spans, prefix),
      messages: [{ key: SPAN.traceId, value: codecFor('span').encode(SPAN) }],
    });
    await producer.disconnect();

    const tail = await runCli(
      ['tail', topicName(TOPICS.spans, prefix), '--from-beginning', '--limit', '1', '--json'],
      { env: env(mutual()), timeoutMs: 90_000 },
    );
    assert.equal(tail.code, 0, tail.stderr);
    const [line] = jsonLines(tail.stdout) as Array<{ value: { traceId: string } }>;
    assert.equal(line!.value.traceId, SPAN.traceId);
  });

  /** Connects an admin client with these settings and no retries: the error, or undefined. */
  async function connectWith(tls: Record<string, string>): Promise<Error | undefined> {
    const { config } = loadConfig({ env: env(tls), cwd: dir });
    const kafka = createKafka({ ...kafkaOptionsFrom(config, testLogger), connectionTimeout: 5_000 });
    try {
      const admin = await connectAdmin(kafka, config.kafka.brokers);
      await admin.disconnect();
      return undefined;
    } catch (err) {
      return err as Error;
    }
  }

  it('refuses a broker whose certificate another CA signed', async () => {
    const err = await connectWith({ ...mutual(), MESHPIPE_KAFKA_TLS_CA: otherCa.ca });
    assert.equal((err as Error & { code?: string })?.code, ERRORS.KAFKA_UNREACHABLE.code);
    assert.match(err!.message, /certificate/i);
  });

  it('is refused by the broker without a client certificate', async () => {
    const err = await connectWith({ MESHPIPE_KAFKA_TLS_CA: pki.ca });
    assert.equal((err as Error & { code?: string })?.code, ERRORS.KAFKA_UNREACHABLE.code);
    assert.equal(await connectWith(mutual()), undefined, 'the same client with its certificate connects');
  });

  it('a TLS file that cannot be read, or a certificate without its key, is a configuration error naming the key', async () => {
    const missing = await runCli(['topics'], {
      env: env({ ...mutual(), MESHPIPE_KAFKA_TLS_CA: join(dir, 'no-such-ca.pem') }),
    });
    assert.equal(missing.code, 78, missing.stderr);
    assert.match(missing.stderr, /kafka\.tls\.ca.*cannot read .*no-such-ca\.pem/);
    const { config } = loadConfig({
      env: env({ MESHPIPE_KAFKA_TLS_CERT: pki.clientCert }),
      cwd: dir,
    });
    assert.throws(
      () => kafkaOptionsFrom(config, testLogger),
      (err: Error & { code: string }) => {
        assert.equal(err.code, ERRORS.CONFIG_INVALID_VALUE.code);
        assert.match(err.message, /kafka\.tls\.key/);
        return true;
      },
    );
  });
});
