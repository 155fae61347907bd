/**
 * The demo's traffic generator as a process, run by demo/topology.ts inside the client pod:
 *
 *   ip netns exec mp-client node demo/load.ts --target http://10.240.0.2:8080 --rate 20 [--count N]
 *       [--duration s] [--connections 4] [--propagation w3c|none] [--seed 1] [--watch-parent]
 *
 * Prints JSON lines on stdout: {"type":"ready"}, then {"type":"stats",...LoadStats} every second, and
 * {"type":"done",...LoadStats} when a bounded run ends or SIGTERM arrives.
 */
import { parseArgs } from 'node:util';
import { runLoad } from './load-generator.ts';

const { values } = parseArgs({
  options: {
    target: { type: 'string' },
    rate: { type: 'string', default: '20' },
    connections: { type: 'string', default: '4' },
    count: { type: 'string' },
    duration: { type: 'string' },
    propagation: { type: 'string', default: 'w3c' },
    seed: { type: 'string', default: '1' },
    'report-ms': { type: 'string', default: '1000' },
    'watch-parent': { type: 'boolean', default: false },
  },
  strict: true,
});
if (values.target === undefined) throw new Error('--target <url> is required');

const emit = (value: object) => process.stdout.write(`${JSON.stringify(value)}\n`);
const controller = new AbortController();
process.once('SIGTERM', () => controller.abort());
process.once('SIGINT', () => controller.abort());
if (values['watch-parent']) {
  process.stdin.on('end', () => process.exit(0));
  process.stdin.resume();
  process.stdout.on('error', () => process.exit(0));
}

emit({ type: 'ready', pid: process.pid, target: values.target, rate: Number(values.rate) });
const final = await runLoad(
  {
    target: values.target,
    rate: Number(values.rate),
    connections: Number(values.connections),
    ...(values.count === undefined ? {} : { count: Number(values.count) }),
    ...(values.duration === undefined ? {} : { durationMs: Number(values.duration) * 1000 }),
    propagate: values.propagation !== 'none',
    seed: Number(values.seed),
    reportMs: Number(values['report-ms']),
    signal: controller.signal,
  },
  (stats) => emit({ type: 'stats', ...stats }),
);
emit({ type: 'done', ...final });
// The watch on stdin would keep the process alive.
process.exit(0);
