/**
 * What `meshpipe sink new <name>` writes: a small sink that works as generated — it reads the spans topic
 * and appends every span to a JSON-lines file, one batch per write — and a unit test of its exporter that
 * passes as generated. Every piece a real sink needs is there to be edited: config spec (with the
 * host's keys), a flag, `prepare` off the export path, an exporter that answers with a value.
 *
 * Imports as in `processor new` (processor-scaffold.ts): relative paths in a meshpipe checkout,
 * `'meshpipe'` anywhere else.
 */
import { join, relative, sep } from 'node:path';
import { type ImportStyle, importPath, imports, type ScaffoldFile } from './processor-scaffold.ts';

export function scaffoldSink(options: {
  name: string;
  dir: string;
  testDir: string;
  imports: ImportStyle;
}): ScaffoldFile[] {
  const { name } = options;
  const fromPackage = options.imports === 'package';
  /** The import lines of a file at `from`: [what, project file] pairs, or one line from 'meshpipe'. */
  const importsOf = (from: string, lines: Array<[string, string]>) =>
    fromPackage
      ? `import { ${lines
          .flatMap(([what]) => what.replace(/[{}]/g, '').split(','))
          .map((w) => w.trim())
          .sort((a, b) => a.replace(/^type /, '').localeCompare(b.replace(/^type /, '')))
          .join(', ')} } from 'meshpipe';`
      : imports(lines.map(([what, target]) => [what, importPath(from, target)]));
  const folder = join(options.dir, name);
  const sink = join(folder, 'sink.ts');
  const config = join(folder, 'config.ts');
  const exporter = join(folder, 'exporter.ts');
  const test = join(options.testDir, 'exporter.test.ts');
  const testImport = (target: string) => {
    const rel = relative(options.testDir, target).split(sep).join('/');
    return rel.startsWith('.') ? rel : `./${rel}`;
  };

  return [
    {
      path: sink,
      content: `/**
 * ${name}: spans appended to a JSON-lines file.
 *
 * Scaffolded by \`meshpipe sink new\` — docs/adding-a-sink.md walks through it. Run it with
 * \`meshpipe sink ${sink}\`: the host consumes the topic, batches, retries, commits offsets only
 * after the exporter acknowledged a batch, dead-letters what can never be delivered.
 */
${importsOf(sink, [
  ['{ toJsonSafe }', 'schemas/codec.ts'],
  ['{ defineSink }', 'sinks/runtime/definition.ts'],
])}
import { config } from './config.ts';
import { JsonLinesExporter } from './exporter.ts';

export default defineSink({
  name: '${name}',
  description: 'Spans appended to a JSON-lines file',
  input: 'spans',
  config,
  unit: 'spans',
  flags: {
    path: { key: 'path', value: '<file>', doc: 'The JSON-lines file (default: sinks.${name}.path).' },
  },
  // Each record becomes its line as it is read, off the export path. Throwing here dead-letters the
  // record alone (its batch goes on).
  prepare: (record) => JSON.stringify(toJsonSafe(record.value)),
  createExporter: ({ config }) => new JsonLinesExporter(config.path),
});
`,
    },
    {
      path: config,
      content: `${importsOf(config, [
        ['{ type InferFields, s }', 'lib/config/spec.ts'],
        ['{ sinkHostFields }', 'sinks/runtime/definition.ts'],
      ])}

/**
 * \`sinks.${name}\` in meshpipe.json: the host's keys (listen, batchSize, lingerMs, retry, runtime...),
 * here with small batches, and this sink's own. Validated, documented and typed from this one spec.
 */
export const config = s.object(
  {
    ...sinkHostFields({ batchSize: 100, lingerMs: 200 }),
    path: s.string({
      doc: 'The JSON-lines file spans are appended to.',
      default: '${name}.jsonl',
      check: (v) => (v.trim() === '' ? 'must name a file' : undefined),
    }),
  },
  { doc: '${name}: spans appended to a JSON-lines file.' },
);

export type Config = InferFields<(typeof config)['fields']>;
`,
    },
    {
      path: exporter,
      content: `import { appendFile } from 'node:fs/promises';
${importsOf(exporter, [['{ type Exporter, type ExportResult, retryable, SUCCESS }', 'sinks/runtime/exporter.ts']])}

/**
 * Appends one batch of lines per call. The answer is a value: SUCCESS once the lines are written (the
 * host then commits their offsets), retryable when writing failed (a full disk can be freed: the host
 * retries the same batch with backoff, and Kafka keeps the records meanwhile).
 */
export class JsonLinesExporter implements Exporter<string> {
  readonly #path: string;

  constructor(path: string) {
    this.#path = path;
  }

  async export(lines: readonly string[]): Promise<ExportResult> {
    try {
      await appendFile(this.#path, lines.map((line) => \`\${line}\\n\`).join(''));
      return SUCCESS;
    } catch (err) {
      return retryable(err as Error);
    }
  }

  async shutdown(): Promise<void> {}
}
`,
    },
    {
      path: test,
      content: `import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { JsonLinesExporter } from '${testImport(exporter)}';

describe('${name} exporter', () => {
  it('appends every batch to the file, one line per item, and acknowledges it', async () => {
    const file = join(mkdtempSync(join(tmpdir(), '${name}-')), 'out.jsonl');
    const exporter = new JsonLinesExporter(file);
    assert.deepEqual(await exporter.export(['{"a":1}', '{"a":2}']), { code: 'success' });
    assert.deepEqual(await exporter.export(['{"a":3}']), { code: 'success' });
    assert.equal(readFileSync(file, 'utf8'), '{"a":1}\\n{"a":2}\\n{"a":3}\\n');
  });

  it('asks for a retry when the file cannot be written', async () => {
    const exporter = new JsonLinesExporter(join(tmpdir(), 'no-such-dir-${name}', 'out.jsonl'));
    assert.equal((await exporter.export(['{}'])).code, 'retryable');
  });
});
`,
    },
  ];
}
