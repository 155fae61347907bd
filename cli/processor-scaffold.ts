/**
 * What `meshpipe processor new <name>` writes: a small processor that works as generated — it reads raw
 * events, keeps per-service counters in a typed state store (an Avro type), and emits one summary per service and window
 * (punctuate) to its own topic with its own Avro schema — and a unit test for it that passes as
 * generated. Every piece a real processor needs is there to be edited: config spec, state, handler,
 * punctuation, a custom topic and schema, a test on the in-memory context.
 *
 * In a meshpipe checkout the files import the modules by relative path; anywhere else (your own project,
 * with the npm package installed) from `'meshpipe'` and `'meshpipe/testing'`.
 */
import { dirname, join, relative, sep } from 'node:path';
import { PROJECT_ROOT } from '../lib/paths.ts';

export interface ScaffoldFile {
  path: string;
  content: string;
}

function pascal(name: string): string {
  return name.replace(/(^|-)([a-z0-9])/g, (_, __, c: string) => c.toUpperCase());
}

/** `import ... from '<this>'`: the project file `target`, relative to the directory of `from`. */
export function importPath(from: string, target: string): string {
  const rel = relative(dirname(from), join(PROJECT_ROOT, target)).split(sep).join('/');
  return rel.startsWith('.') ? rel : `./${rel}`;
}

/**
 * Import lines in the order the project's linter (biome) keeps them: farther directories first, then by
 * path. Which one is farther depends on where --dir puts the processor.
 */
export function imports(lines: Array<[string, string]>): string {
  const depth = (path: string) => path.split('/').filter((part) => part === '..').length;
  return [...lines]
    .sort(([, a], [, b]) => depth(b) - depth(a) || (a < b ? -1 : a > b ? 1 : 0))
    .map(([what, path]) => `import ${what} from '${path}';`)
    .join('\n');
}

/** Where the scaffold imports meshpipe from. */
export type ImportStyle = 'checkout' | 'package';

export function scaffoldProcessor(options: {
  name: string;
  dir: string;
  testDir: string;
  imports: ImportStyle;
}): ScaffoldFile[] {
  const { name } = options;
  const fromPackage = options.imports === 'package';
  /** The specifier of a meshpipe module for a file at `from`. */
  const meshpipe = (from: string, target: string) =>
    fromPackage
      ? target.startsWith('processors/runtime/test-')
        ? 'meshpipe/testing'
        : 'meshpipe'
      : importPath(from, target);
  const folder = join(options.dir, name);
  const file = (base: string) => join(folder, base);
  const index = file('index.ts');
  const config = file('config.ts');
  const handler = file('handler.ts');
  const topics = file('topics.ts');
  const test = join(options.testDir, 'handler.test.ts');
  const testImport = (target: string) => {
    const rel = relative(options.testDir, target).split(sep).join('/');
    return rel.startsWith('.') ? rel : `./${rel}`;
  };

  return [
    {
      path: index,
      content: `/**
 * ${name}: HTTP messages and bytes per service, one summary per window.
 *
 * Scaffolded by \`meshpipe processor new\` — docs/adding-a-processor.md walks through it. Try it on a
 * recording with \`meshpipe replay <file> --processor ${index}\`, run it with
 * \`meshpipe process ${index}\`.
 */
import { defineProcessor } from '${meshpipe(index, 'processors/runtime/definition.ts')}';
import { config } from './config.ts';
import { countTraffic, flushWindow, stores } from './handler.ts';
import { SUMMARY_TOPIC } from './topics.ts';

export default defineProcessor({
  name: '${name}',
  description: 'HTTP messages and bytes per service, one summary per window',
  inputs: ['raw'],
  outputs: [SUMMARY_TOPIC],
  schemas: [new URL('./${name}.avsc', import.meta.url)],
  config,
  stores,
  process: countTraffic,
  punctuate: { intervalMs: (c) => c.windowMs, run: flushWindow },
});
`,
    },
    {
      path: config,
      content: `import { type InferFields, s } from '${meshpipe(config, 'lib/config/spec.ts')}';

/** \`processors.${name}\` in meshpipe.json: validated, documented, and typed from this one spec. */
export const config = s.object(
  {
    windowMs: s.int({ doc: 'Length of a summary window, ms.', default: 10_000, min: 100 }),
  },
  { doc: '${name}: HTTP messages and bytes per service, one summary per window.' },
);

export type Config = InferFields<(typeof config)['fields']>;
`,
    },
    {
      path: topics,
      content: `import type { TopicDefinition } from '${meshpipe(topics, 'schemas/topics.ts')}';

/** Where the summaries go: \`<prefix>.${name}.v1\`, values in ./${name}.avsc. */
export const SUMMARY_TOPIC = {
  suffix: '${name}.v1',
  schema: '${name}',
  key: 'service name: the summaries of one service stay in order',
  partitions: 3,
  retentionMs: 24 * 3_600_000,
  cleanupPolicy: 'delete',
  description: 'HTTP messages and bytes per service and window.',
  producedBy: '${name}',
  consumedBy: 'you',
} as const satisfies TopicDefinition;

/** A record of SUMMARY_TOPIC (Avro longs are BigInts). */
export interface Summary {
  service: string;
  windowStartMs: bigint;
  windowEndMs: bigint;
  messages: bigint;
  bytesIn: bigint;
  bytesOut: bigint;
}
`,
    },
    {
      path: handler,
      content: `${
        fromPackage
          ? "import { avroStore, type InputRecord, type L7RawEvent, type ProcessorContext } from 'meshpipe';"
          : imports([
              [
                'type { InputRecord, ProcessorContext }',
                importPath(handler, 'processors/runtime/definition.ts'),
              ],
              ['{ avroStore }', importPath(handler, 'processors/runtime/store-types.ts')],
              ['type { L7RawEvent }', importPath(handler, 'schemas/types.ts')],
            ])
      }
import type { Config } from './config.ts';
import { SUMMARY_TOPIC, type Summary } from './topics.ts';

/** What the partition keeps per service until its window closes (./traffic.avsc: Avro longs are BigInts). */
export interface Traffic {
  sinceMs: number;
  messages: number;
  bytesIn: bigint;
  bytesOut: bigint;
}

/**
 * The partition state: named stores, each of a declared type, each its own key space on the changelog.
 * \`ctx.stores.traffic.get(service)\` is a \`Traffic\`.
 */
export const stores = {
  traffic: avroStore<Traffic>(new URL('./traffic.avsc', import.meta.url)),
};

type Context = ProcessorContext<Config, typeof stores>;

/** Every raw event of the partition, in order. Everything it does goes through \`ctx\`. */
export function countTraffic(record: InputRecord<L7RawEvent>, ctx: Context): void {
  const event = record.value;
  if (event.kind !== 'DATA') return; // connection open/close: no bytes
  const service = event.workload.service;
  const traffic = ctx.stores.traffic.get(service) ?? { sinceMs: ctx.now(), messages: 0, bytesIn: 0n, bytesOut: 0n };
  // A HEAD segment starts an HTTP message: a request or a response.
  traffic.messages += event.segments.filter((s) => s.kind === 'HEAD').length;
  if (event.direction === 'INGRESS') traffic.bytesIn += event.byteCount;
  else traffic.bytesOut += event.byteCount;
  // Stored values are copies: set() is what stores the change (in the same transaction as the outputs).
  ctx.stores.traffic.set(service, traffic);
}

/** Every \`windowMs\`: one summary per service seen in the window, then an empty window. */
export function flushWindow(ctx: Context): void {
  const now = ctx.now();
  const store = ctx.stores.traffic;
  for (const service of store.keys()) {
    const traffic = store.get(service)!;
    const summary: Summary = {
      service,
      windowStartMs: BigInt(traffic.sinceMs),
      windowEndMs: BigInt(now),
      messages: BigInt(traffic.messages),
      bytesIn: traffic.bytesIn,
      bytesOut: traffic.bytesOut,
    };
    ctx.emit(SUMMARY_TOPIC, service, summary);
    store.delete(service);
    ctx.count('summaries');
  }
}
`,
    },
    {
      path: file(`${name}.avsc`),
      content: `${JSON.stringify(
        {
          type: 'record',
          name: `${pascal(name)}Summary`,
          namespace: 'dev.meshpipe.user',
          doc: `HTTP messages and bytes of one service in one window (processor ${name}).`,
          fields: [
            { name: 'service', doc: 'Service name (workload.service of the events).', type: 'string' },
            { name: 'windowStartMs', doc: 'First event of the window, ms since the epoch.', type: 'long' },
            { name: 'windowEndMs', doc: 'End of the window, ms since the epoch.', type: 'long' },
            { name: 'messages', doc: 'HTTP messages started (requests and responses).', type: 'long' },
            { name: 'bytesIn', doc: 'Bytes the service received.', type: 'long' },
            { name: 'bytesOut', doc: 'Bytes the service sent.', type: 'long' },
          ],
        },
        null,
        2,
      )}\n`,
    },
    {
      path: file('traffic.avsc'),
      content: `${JSON.stringify(
        {
          type: 'record',
          name: `${pascal(name)}Traffic`,
          namespace: 'dev.meshpipe.user',
          doc: `What processor ${name} keeps per service until its window closes (handler.ts, Traffic).`,
          fields: [
            { name: 'sinceMs', doc: 'First event of the window, ms since the epoch.', type: 'double' },
            { name: 'messages', doc: 'HTTP messages started (requests and responses).', type: 'int' },
            { name: 'bytesIn', doc: 'Bytes the service received.', type: 'long' },
            { name: 'bytesOut', doc: 'Bytes the service sent.', type: 'long' },
          ],
        },
        null,
        2,
      )}\n`,
    },
    {
      path: test,
      content: `import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
${
  fromPackage
    ? `import { rawEvent, testProcessor } from 'meshpipe/testing';\nimport processor from '${testImport(index)}';`
    : imports([
        ['{ testProcessor }', testImport(join(PROJECT_ROOT, 'processors/runtime/test-context.ts'))],
        ['{ rawEvent }', testImport(join(PROJECT_ROOT, 'processors/runtime/test-events.ts'))],
        ['processor', testImport(index)],
      ])
}

const REQUEST = 'GET /orders/7 HTTP/1.1\\r\\nHost: orders\\r\\n\\r\\n';
const RESPONSE = 'HTTP/1.1 200 OK\\r\\nContent-Length: 20\\r\\n\\r\\n';
const bytes = (head: string, body = 0) => BigInt(Buffer.byteLength(head) + body);

describe('${name}', () => {
  it('sums messages and bytes per service and emits one summary per window', () => {
    const t = testProcessor(processor, { config: { windowMs: 1_000 }, now: 5_000 });
    t.process(rawEvent({ service: 'gateway', direction: 'EGRESS', head: REQUEST }));
    t.process(rawEvent({ service: 'orders', direction: 'INGRESS', head: REQUEST }));
    t.process(rawEvent({ service: 'orders', direction: 'EGRESS', head: RESPONSE, bodyBytes: 20 }));
    t.process(rawEvent({ service: 'orders', kind: 'CLOSE' }));
    assert.deepEqual(t.emitted, [], 'nothing is emitted before the window closes');

    t.advance(1_000);
    assert.deepEqual(
      t.punctuate().map((o) => o.value),
      [
        {
          service: 'gateway',
          windowStartMs: 5_000n,
          windowEndMs: 6_000n,
          messages: 1n,
          bytesIn: 0n,
          bytesOut: bytes(REQUEST),
        },
        {
          service: 'orders',
          windowStartMs: 5_000n,
          windowEndMs: 6_000n,
          messages: 2n,
          bytesIn: bytes(REQUEST),
          bytesOut: bytes(RESPONSE, 20),
        },
      ],
    );
    assert.equal(t.stores.traffic.size, 0, 'the next window starts empty');
    assert.deepEqual(t.punctuate(), [], 'an empty window emits nothing');
  });
});
`,
    },
  ];
}
