/**
 * A connection of our own to one broker, for the few requests the client binding does not make
 * (describe-configs.ts, leave-group.ts): the Kafka framing (https://kafka.apache.org/protocol: size,
 * request header v1, response header v0), non-flexible encodings only, and the same TLS and SASL as
 * the client (PLAIN; SCRAM-SHA-256/512 per RFC 5802/7677) with SaslHandshake v1 and SaslAuthenticate
 * v1, which every broker from Kafka 2.2 to 4.x accepts. Not on any hot path: one request or two per
 * call, then the connection is closed.
 */

import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { KafkaTlsOptions } from '../kafka-tls.ts';
import type { KafkaConnection, SaslOptions } from './connection.ts';
import { code, KafkaError } from './kafka-error.ts';

const API_SASL_HANDSHAKE = 17;
const API_SASL_AUTHENTICATE = 36;

// ---- encoding --------------------------------------------------------------------------------------

export class Writer {
  readonly #parts: Buffer[] = [];
  int8(v: number): this {
    const b = Buffer.alloc(1);
    b.writeInt8(v);
    this.#parts.push(b);
    return this;
  }
  int16(v: number): this {
    const b = Buffer.alloc(2);
    b.writeInt16BE(v);
    this.#parts.push(b);
    return this;
  }
  int32(v: number): this {
    const b = Buffer.alloc(4);
    b.writeInt32BE(v);
    this.#parts.push(b);
    return this;
  }
  string(s: string): this {
    const bytes = Buffer.from(s, 'utf8');
    return this.int16(bytes.length).raw(bytes);
  }
  bytes(bytes: Buffer): this {
    return this.int32(bytes.length).raw(bytes);
  }
  raw(bytes: Buffer): this {
    this.#parts.push(bytes);
    return this;
  }
  build(): Buffer {
    return Buffer.concat(this.#parts);
  }
}

export class Reader {
  readonly buffer: Buffer;
  #offset = 0;
  constructor(buffer: Buffer) {
    this.buffer = buffer;
  }
  #need(n: number): number {
    if (this.#offset + n > this.buffer.length) throw new Error('truncated Kafka response');
    const at = this.#offset;
    this.#offset += n;
    return at;
  }
  int8(): number {
    return this.buffer.readInt8(this.#need(1));
  }
  int16(): number {
    return this.buffer.readInt16BE(this.#need(2));
  }
  int32(): number {
    return this.buffer.readInt32BE(this.#need(4));
  }
  int64(): bigint {
    return this.buffer.readBigInt64BE(this.#need(8));
  }
  nullableString(): string | null {
    const length = this.int16();
    if (length < 0) return null;
    const at = this.#need(length);
    return this.buffer.toString('utf8', at, at + length);
  }
  string(): string {
    return this.nullableString() ?? '';
  }
  bytes(): Buffer {
    const length = this.int32();
    if (length < 0) return Buffer.alloc(0);
    const at = this.#need(length);
    return this.buffer.subarray(at, at + length);
  }
  array<T>(item: () => T): T[] {
    const count = this.int32();
    const out: T[] = [];
    for (let i = 0; i < count; i++) out.push(item());
    return out;
  }
}

// ---- one connection --------------------------------------------------------------------------------

export class Connection {
  readonly #socket: Socket;
  readonly #clientId: string;
  #received: Buffer = Buffer.alloc(0);
  #nextId = 1;
  readonly #waiting = new Map<number, { resolve: (body: Buffer) => void; reject: (err: Error) => void }>();
  #failure: Error | undefined;

  private constructor(socket: Socket, clientId: string) {
    this.#socket = socket;
    this.#clientId = clientId;
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('error', (err) => this.#fail(err));
    socket.on('close', () => this.#fail(new Error('connection closed by the broker')));
  }

  static open(
    address: string,
    options: { tls: KafkaTlsOptions | undefined; timeoutMs: number; clientId: string },
  ): Promise<Connection> {
    const { host, port } = parseAddress(address);
    const tls = options.tls;
    return new Promise<Connection>((resolve, reject) => {
      const socket = tls
        ? tlsConnect({
            host,
            port,
            servername: /^[\d.]+$|:/.test(host) ? undefined : host,
            ...tls,
          })
        : netConnect({ host, port });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`no connection to ${address} within ${options.timeoutMs} ms`));
      }, options.timeoutMs);
      socket.once(tls ? 'secureConnect' : 'connect', () => {
        clearTimeout(timer);
        resolve(new Connection(socket, options.clientId));
      });
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
  }

  /** Sends a request (header v1) and resolves with the response body after its correlation id. */
  request(apiKey: number, version: number, body: Buffer): Promise<Buffer> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    const id = this.#nextId++;
    const header = new Writer().int16(apiKey).int16(version).int32(id).string(this.#clientId).build();
    const size = Buffer.alloc(4);
    size.writeInt32BE(header.length + body.length);
    return new Promise<Buffer>((resolve, reject) => {
      this.#waiting.set(id, { resolve, reject });
      this.#socket.write(Buffer.concat([size, header, body]));
    });
  }

  close(): void {
    this.#socket.destroy();
  }

  #onData(chunk: Buffer): void {
    this.#received = this.#received.length === 0 ? chunk : Buffer.concat([this.#received, chunk]);
    while (this.#received.length >= 4) {
      const size = this.#received.readInt32BE(0);
      if (this.#received.length < 4 + size) return;
      const frame = this.#received.subarray(4, 4 + size);
      this.#received = this.#received.subarray(4 + size);
      const id = frame.readInt32BE(0);
      const waiter = this.#waiting.get(id);
      this.#waiting.delete(id);
      waiter?.resolve(frame.subarray(4));
    }
  }

  #fail(err: Error): void {
    this.#failure ??= err;
    for (const waiter of this.#waiting.values()) waiter.reject(err);
    this.#waiting.clear();
  }
}

function parseAddress(address: string): { host: string; port: number } {
  const match = /^\[?([^\]]+?)\]?:(\d+)$/.exec(address.trim());
  if (match === null) throw new Error(`not a host:port broker address: ${address}`);
  return { host: match[1]!, port: Number(match[2]) };
}

export function brokerError(errorCode: number, what: string, message?: string | null): KafkaError {
  return new KafkaError(`${what}: ${message ?? `broker error ${errorCode}`}`, { code: errorCode });
}

// ---- SASL ------------------------------------------------------------------------------------------

async function authenticate(connection: Connection, sasl: SaslOptions): Promise<void> {
  const mechanism = sasl.mechanism.toUpperCase();
  const handshake = new Reader(
    await connection.request(API_SASL_HANDSHAKE, 1, new Writer().string(mechanism).build()),
  );
  const handshakeError = handshake.int16();
  const offered = handshake.array(() => handshake.string());
  if (handshakeError !== 0)
    throw brokerError(
      handshakeError,
      'SASL handshake',
      `the broker offers ${offered.join(', ')}, not ${mechanism}`,
    );
  const exchange = async (bytes: Buffer): Promise<Buffer> => {
    const r = new Reader(
      await connection.request(API_SASL_AUTHENTICATE, 1, new Writer().bytes(bytes).build()),
    );
    const errorCode = r.int16();
    const message = r.nullableString();
    const answer = r.bytes();
    if (errorCode !== 0) throw brokerError(errorCode, 'SASL authentication', message);
    return answer;
  };
  if (sasl.mechanism === 'plain') {
    await exchange(Buffer.from(`\0${sasl.username}\0${sasl.password}`, 'utf8'));
    return;
  }
  await scram(sasl, exchange);
}

/** SCRAM client exchange (RFC 5802): client-first, server-first, client-final with proof, server-final. */
async function scram(sasl: SaslOptions, exchange: (bytes: Buffer) => Promise<Buffer>): Promise<void> {
  const hash = sasl.mechanism === 'scram-sha-512' ? 'sha512' : 'sha256';
  const hmac = (key: Buffer, text: string) => createHmac(hash, key).update(text).digest();
  const nonce = randomBytes(24).toString('base64');
  const user = sasl.username.replace(/=/g, '=3D').replace(/,/g, '=2C');
  const clientFirstBare = `n=${user},r=${nonce}`;
  const serverFirst = (await exchange(Buffer.from(`n,,${clientFirstBare}`))).toString('utf8');
  const attributes = new Map(serverFirst.split(',').map((part) => [part[0], part.slice(2)] as const));
  const serverNonce = attributes.get('r') ?? '';
  const salt = Buffer.from(attributes.get('s') ?? '', 'base64');
  const iterations = Number(attributes.get('i'));
  if (!serverNonce.startsWith(nonce) || !Number.isInteger(iterations) || iterations < 1)
    throw new Error('SCRAM: the broker answered an invalid server-first message');
  const salted = pbkdf2Sync(sasl.password, salt, iterations, hash === 'sha512' ? 64 : 32, hash);
  const clientKey = hmac(salted, 'Client Key');
  const storedKey = createHash(hash).update(clientKey).digest();
  const withoutProof = `c=biws,r=${serverNonce}`;
  const authMessage = `${clientFirstBare},${serverFirst},${withoutProof}`;
  const signature = hmac(storedKey, authMessage);
  const proof = Buffer.from(clientKey.map((byte, i) => byte ^ signature[i]!));
  const serverFinal = (await exchange(Buffer.from(`${withoutProof},p=${proof.toString('base64')}`))).toString(
    'utf8',
  );
  const verifier = Buffer.from(/(?:^|,)v=([^,]*)/.exec(serverFinal)?.[1] ?? '', 'base64');
  const expected = hmac(hmac(salted, 'Server Key'), authMessage);
  if (verifier.length !== expected.length || !timingSafeEqual(verifier, expected))
    throw new Error('SCRAM: the broker could not prove it knows the credentials');
}

/**
 * Runs `use` on an authenticated connection to the first of `addresses` that answers (default: the
 * client's bootstrap brokers), within the client's request timeout; throws a retriable KafkaError
 * naming each broker's failure when none does. A KafkaError thrown by `use` (the broker's answer) is
 * not retried on the next broker.
 */
export async function withBroker<T>(
  client: KafkaConnection,
  what: string,
  use: (connection: Connection) => Promise<T>,
  addresses: readonly string[] = client.brokers,
): Promise<T> {
  const { tls, sasl } = client.security;
  const failures: string[] = [];
  for (const address of addresses) {
    let connection: Connection | undefined;
    const deadline = setTimeout(() => connection?.close(), client.requestTimeout);
    try {
      connection = await Connection.open(address, {
        tls,
        timeoutMs: client.connectionTimeout,
        clientId: client.clientId,
      });
      if (sasl !== undefined) await authenticate(connection, sasl);
      return await use(connection);
    } catch (err) {
      if (err instanceof KafkaError) throw err;
      failures.push(`${address}: ${(err as Error).message}`);
    } finally {
      clearTimeout(deadline);
      connection?.close();
    }
  }
  throw new KafkaError(`${what}: no broker answered (${failures.join('; ')})`, {
    code: code('ERR__TRANSPORT'),
    retriable: true,
  });
}
