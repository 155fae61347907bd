import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { SCHEMAS_DIR, schemaRegistry } from '../../schemas/registry.ts';
import { TOPICS } from '../../schemas/topics.ts';
import { generateSchemaTypes } from '../../scripts/gen-schema-types.ts';

// biome-ignore lint/suspicious/noExplicitAny: walking JSON schema documents
type Json = any;

function walkFields(schema: Json, path: string, visit: (path: string, field: Json) => void): void {
  if (Array.isArray(schema)) {
    for (const s of schema) walkFields(s, path, visit);
    return;
  }
  if (schema === null || typeof schema !== 'object') return;
  if (schema.type === 'record') {
    for (const f of schema.fields) {
      visit(`${path}.${f.name}`, f);
      walkFields(f.type, `${path}.${f.name}`, visit);
    }
  } else if (schema.type === 'array') walkFields(schema.items, path, visit);
  else if (schema.type === 'map') walkFields(schema.values, path, visit);
}

describe('schema files', () => {
  const files = readdirSync(SCHEMAS_DIR).filter((f) => f.endsWith('.avsc'));

  it('document every record and every field', () => {
    for (const file of files) {
      const schema = JSON.parse(readFileSync(join(SCHEMAS_DIR, file), 'utf8'));
      assert.ok(schema.doc, `${file}: the record has no doc`);
      walkFields(schema, file, (path, field) =>
        assert.ok(typeof field.doc === 'string' && field.doc.length > 10, `${path} has no doc`),
      );
    }
  });

  it('schemas/types.ts is generated from the current schemas (run node scripts/gen-schema-types.ts)', () => {
    assert.equal(readFileSync(join(SCHEMAS_DIR, 'types.ts'), 'utf8'), generateSchemaTypes());
  });

  it('reads every earlier version kept in schemas/history/ with the current schema of its record', () => {
    const registry = schemaRegistry();
    const earlier = registry.all().filter((e) => !e.current);
    assert.ok(earlier.some((e) => e.fullName === 'dev.meshpipe.v1.L7RawEvent'));
    for (const e of earlier)
      assert.doesNotThrow(() => registry.current(e.fullName).type.createResolver(e.type));
  });

  it('every topic names an existing schema, and names are unique', () => {
    const suffixes = Object.values(TOPICS).map((t) => t.suffix);
    assert.equal(new Set(suffixes).size, suffixes.length);
    for (const t of Object.values(TOPICS)) {
      assert.ok(files.includes(`${t.schema}.avsc`), `${t.suffix} names schema ${t.schema}`);
      assert.ok(schemaRegistry().current(t.schema));
      assert.match(t.suffix, /\.v\d+$/, 'topic names carry their version');
    }
  });
});
