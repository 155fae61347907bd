/**
 * A real Schema Registry for tests: MESHPIPE_TEST_SCHEMA_REGISTRY_URL when set (any Confluent-compatible
 * registry), else the local stack's Apicurio Registry, started on first use and shared by the test files
 * of a run (scripts/test stops it at the end). Subjects are named after topics, and every test uses its
 * own topic prefix, so tests never see each other's subjects.
 */
import { ensureStack } from '../../cli/stack/stack.ts';
import { testLogger } from '../../testkit/kafka.ts';

let urlPromise: Promise<string> | undefined;

/** The registry's Confluent-compatible API, e.g. http://127.0.0.1:8081/apis/ccompat/v7. */
export function testSchemaRegistryUrl(): Promise<string> {
  urlPromise ??= (async () => {
    const fromEnv = process.env.MESHPIPE_TEST_SCHEMA_REGISTRY_URL;
    if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
    const stack = await ensureStack({ logger: testLogger, kafka: false, redis: false, schemaRegistry: true });
    return stack.endpoints.schemaRegistryUrl;
  })();
  return urlPromise;
}

/** A request to the registry's own REST API, to check what meshpipe left there. */
export async function registryGet(url: string, path: string): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${url}/${path}`, { headers: { Accept: 'application/json' } });
  const text = await res.text();
  return { status: res.status, body: text === '' ? null : JSON.parse(text) };
}
