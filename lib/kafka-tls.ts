/**
 * The TLS side of the Kafka connection, from `kafka.ssl` and `kafka.tls.{ca,cert,key}`: the options
 * Node's `tls.connect` takes (every Node Kafka client passes them through), read once at start-up so a
 * missing or unreadable file is a configuration error naming its key, not a connection failure later.
 */
import { readFileSync } from 'node:fs';
import type { MeshpipeConfig } from './config/meshpipe-config.ts';
import { ERRORS, errorMessage, MeshpipeError } from './errors.ts';

export interface KafkaTlsOptions {
  /** CA certificates to verify the brokers with; absent: the system CAs. */
  ca?: Buffer;
  /** Client certificate and key, for brokers that authenticate clients by certificate. */
  cert?: Buffer;
  key?: Buffer;
  /** Always true: a broker whose certificate does not verify is refused. */
  rejectUnauthorized: true;
}

function readPem(key: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new MeshpipeError(ERRORS.CONFIG_INVALID_VALUE, [key, `cannot read ${path}: ${errorMessage(err)}`]);
  }
}

/** TLS options for the Kafka client, or undefined for a plaintext connection. */
export function kafkaTlsOptions(kafka: MeshpipeConfig['kafka']): KafkaTlsOptions | undefined {
  const { ca, cert, key } = kafka.tls;
  if (!kafka.ssl && ca === '' && cert === '' && key === '') return undefined;
  if ((cert === '') !== (key === ''))
    throw new MeshpipeError(ERRORS.CONFIG_INVALID_VALUE, [
      cert === '' ? 'kafka.tls.cert' : 'kafka.tls.key',
      'a client certificate and its key go together: set both kafka.tls.cert and kafka.tls.key, or neither',
    ]);
  return {
    ...(ca === '' ? {} : { ca: readPem('kafka.tls.ca', ca) }),
    ...(cert === '' ? {} : { cert: readPem('kafka.tls.cert', cert), key: readPem('kafka.tls.key', key) }),
    rejectUnauthorized: true,
  };
}
