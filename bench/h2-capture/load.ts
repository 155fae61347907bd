/**
 * Load for bench/h2-capture, run inside the client namespace: N calls with at most C in flight on one
 * connection, gRPC unary (grpc-js) or HTTP/1.x keep-alive GETs (C connections), started at most `rate`
 * calls a second (0: as fast as they complete). Prints one JSON line: calls, wall seconds, and this
 * process's CPU seconds (the kernel time of the capture's programs is charged to the syscalls that run
 * them, i.e. to the traced processes).
 *
 *   node load.ts grpc|http1 <host:port> <n> <concurrency> [rate]
 */
import { Agent, get } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import * as grpc from '@grpc/grpc-js';
import { loadInventory } from '../../testkit/grpc-service.ts';

const [mode, address, nText, cText, rateText] = process.argv.slice(2) as [
  string,
  string,
  string,
  string,
  string?,
];
const n = Number(nText);
const concurrency = Number(cText);
const rate = Number(rateText ?? 0);

async function pool(call: () => Promise<void>): Promise<void> {
  let started = 0;
  const t0 = performance.now();
  const worker = async () => {
    while (started < n) {
      const index = started++;
      // Paced: call i starts no earlier than i/rate seconds in, so both protocols meet the collector at
      // the same call rate (closed-loop HTTP/1.x runs 3-4x faster than gRPC and would overrun it).
      const wait = rate > 0 ? t0 + (index * 1000) / rate - performance.now() : 0;
      if (wait > 1) await sleep(wait);
      await call();
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

let call: () => Promise<void>;
if (mode === 'grpc') {
  const pkg = loadInventory();
  const client = new pkg.Inventory(address, grpc.credentials.createInsecure());
  await new Promise<void>((resolve, reject) =>
    client.waitForReady(Date.now() + 10_000, (err: Error | undefined) => (err ? reject(err) : resolve())),
  );
  call = () =>
    new Promise<void>((resolve, reject) =>
      client.Reserve({ sku: 'bench', quantity: 1 }, (err: Error | null) => (err ? reject(err) : resolve())),
    );
} else {
  const [host, port] = address.split(':') as [string, string];
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  call = () =>
    new Promise<void>((resolve, reject) => {
      get({ host, port: Number(port), path: '/hello', agent }, (res) => {
        res.resume();
        res.on('end', () => resolve());
      }).on('error', reject);
    });
}
const cpu0 = process.cpuUsage();
const t0 = process.hrtime.bigint();
await pool(call);
const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
const cpu = process.cpuUsage(cpu0);
process.stdout.write(`${JSON.stringify({ calls: n, seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6 })}\n`);
process.exit(0);
