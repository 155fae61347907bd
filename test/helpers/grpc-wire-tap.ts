/**
 * A TCP proxy in front of a plaintext (h2c) gRPC server that reads the client's HTTP/2 frames as they
 * pass and records, for every gRPC message, whether it was sent compressed: the first byte of a
 * length-prefixed gRPC message is its Compressed-Flag
 * (https://github.com/grpc/grpc/blob/master/doc/PROTOCOL-HTTP2.md). What the server library decodes
 * hides this, so checking that a client really compresses needs the wire.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';

const PREFACE_BYTES = 24; // "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
const FRAME_HEADER_BYTES = 9;
const DATA = 0;
const PADDED = 0x8;

export class GrpcWireTap {
  /** Compressed-Flag of each gRPC message sent by clients, in order. */
  readonly messages: Array<{ compressed: boolean }> = [];
  #server: Server | undefined;
  #port = 0;
  readonly #sockets = new Set<Socket>();

  static async start(targetPort: number): Promise<GrpcWireTap> {
    const tap = new GrpcWireTap();
    tap.#server = createServer((client) => {
      const upstream = createConnection(targetPort, '127.0.0.1');
      tap.#sockets.add(client).add(upstream);
      let pending = Buffer.alloc(0);
      let prefaceSeen = false;
      const messageStarted = new Set<number>();
      client.on('data', (chunk: Buffer) => {
        pending = Buffer.concat([pending, chunk]);
        if (!prefaceSeen && pending.length >= PREFACE_BYTES) {
          pending = pending.subarray(PREFACE_BYTES);
          prefaceSeen = true;
        }
        while (prefaceSeen && pending.length >= FRAME_HEADER_BYTES) {
          const length = pending.readUIntBE(0, 3);
          if (pending.length < FRAME_HEADER_BYTES + length) break;
          const type = pending[3]!;
          const flags = pending[4]!;
          const stream = pending.readUInt32BE(5) & 0x7fffffff;
          let payload = pending.subarray(FRAME_HEADER_BYTES, FRAME_HEADER_BYTES + length);
          if (type === DATA && length > 0 && !messageStarted.has(stream)) {
            if ((flags & PADDED) !== 0) payload = payload.subarray(1);
            messageStarted.add(stream);
            tap.messages.push({ compressed: payload[0] === 1 });
          }
          pending = pending.subarray(FRAME_HEADER_BYTES + length);
        }
      });
      client.pipe(upstream).pipe(client);
      const close = () => {
        client.destroy();
        upstream.destroy();
      };
      client.on('error', close).on('close', close);
      upstream.on('error', close).on('close', close);
    });
    await new Promise<void>((resolve) => tap.#server!.listen(0, '127.0.0.1', resolve));
    tap.#port = (tap.#server.address() as { port: number }).port;
    return tap;
  }

  get endpoint(): string {
    return `http://127.0.0.1:${this.#port}`;
  }

  async close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((resolve) => this.#server?.close(() => resolve()) ?? resolve());
  }
}
