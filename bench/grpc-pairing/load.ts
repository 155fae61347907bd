/**
 * Load for bench/grpc-pairing, run inside the client namespace: unary gRPC calls (grpc-js,
 * inventory.v1.Inventory/Reserve) at a fixed rate on one HTTP/2 connection, open loop — call k is due
 * at k / rate seconds whatever the latency, at most `inFlight` outstanding (a due call waits for a slot
 * rather than being dropped, and the achieved rate says so). Prints one JSON line: the calls made, how
 * many succeeded, the wall seconds, the achieved rate.
 *
 *   node load.ts <host:port> <calls/s> <seconds> [inFlight]
 */
import * as grpc from '@grpc/grpc-js';
import { loadInventory } from '../../testkit/grpc-service.ts';

const [address, rateText, secondsText, inFlightText] = process.argv.slice(2) as [
  string,
  string,
  string,
  string?,
];
const rate = Number(rateText);
const total = Math.round(rate * Number(secondsText));
const inFlight = Number(inFlightText ?? 256);

const pkg = loadInventory();
const client = new pkg.Inventory(address, grpc.credentials.createInsecure());
await new Promise<void>((resolve, reject) =>
  client.waitForReady(Date.now() + 10_000, (err: Error | undefined) => (err ? reject(err) : resolve())),
);

let started = 0;
let done = 0;
let ok = 0;
let outstanding = 0;
const t0 = performance.now();
await new Promise<void>((resolve) => {
  const tick = () => {
    const due = Math.min(total, Math.floor(((performance.now() - t0) / 1000) * rate) + 1);
    while (started < due && outstanding < inFlight) {
      started++;
      outstanding++;
      client.Reserve({ sku: `bench-${started}`, quantity: 1 }, (err: Error | null) => {
        outstanding--;
        done++;
        if (err === null) ok++;
        if (done === total) resolve();
      });
    }
    if (started < total) setTimeout(tick, 1);
  };
  tick();
});
const seconds = (performance.now() - t0) / 1000;
process.stdout.write(`${JSON.stringify({ calls: done, ok, seconds, callsPerSecond: done / seconds })}\n`);
client.close();
process.exit(0);
