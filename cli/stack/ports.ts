import { createServer } from 'node:net';

/** True when nothing listens on host:port and we may bind it. */
export function isPortFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolvePromise) => {
    const server = createServer();
    server.once('error', () => resolvePromise(false));
    server.listen({ port, host, exclusive: true }, () => {
      server.close(() => resolvePromise(true));
    });
  });
}

/** An ephemeral port the kernel considers free right now. */
export function ephemeralPort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolvePromise, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen({ port: 0, host }, () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolvePromise(port));
    });
  });
}

/** The preferred port if free, else an ephemeral one (never one of `avoid`). */
export async function choosePort(
  preferred: number,
  avoid: readonly number[] = [],
  host = '127.0.0.1',
): Promise<number> {
  if (!avoid.includes(preferred) && (await isPortFree(preferred, host))) return preferred;
  for (let i = 0; i < 20; i++) {
    const port = await ephemeralPort(host);
    if (!avoid.includes(port)) return port;
  }
  throw new Error(`no free port found near ${preferred}`);
}
