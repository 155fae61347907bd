/**
 * A local Schema Registry: Apicurio Registry 2.4.2.Final (in-memory storage), which scripts/setup builds
 * from Maven Central into .local/apicurio/<version>/. meshpipe talks to its Confluent-compatible API,
 * `/apis/ccompat/v7`, exactly as it would to Confluent Schema Registry. Started on request only
 * (`meshpipe stack start --schema-registry`, the tests that need one): without `kafka.schemaRegistry.url`
 * meshpipe needs no registry at all.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ERRORS, MeshpipeError } from '../../lib/errors.ts';
import { isOurProcess, SERVICE_MARKERS } from '../../lib/local-stack-state.ts';
import type { Logger } from '../../lib/logger.ts';
import { APICURIO_VERSION, apicurioJar, STACK_DIR } from '../../lib/paths.ts';
import { findJava } from './java.ts';
import { choosePort } from './ports.ts';
import { spawnService, stopProcess } from './processes.ts';

/** Part of the runner jar's path: what identifies our registry process in /proc. */
export const SCHEMA_REGISTRY_MARKER = SERVICE_MARKERS.schemaRegistry;

/** The Confluent-compatible API under the registry's root. */
export const CCOMPAT_PATH = '/apis/ccompat/v7';

export interface SchemaRegistryState {
  pid: number;
  port: number;
  version: string;
  logFile: string;
}

const dir = join(STACK_DIR, 'schema-registry');

export function schemaRegistryUrl(state: SchemaRegistryState): string {
  return `http://127.0.0.1:${state.port}${CCOMPAT_PATH}`;
}

export function isSchemaRegistryAlive(state: SchemaRegistryState | undefined): boolean {
  return state !== undefined && isOurProcess(state.pid, SCHEMA_REGISTRY_MARKER);
}

/** True once the registry answers its Confluent-compatible API. */
export async function schemaRegistryAnswers(port: number): Promise<boolean> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}${CCOMPAT_PATH}/subjects`, {
      signal: AbortSignal.timeout(2000),
    });
    return res.status === 200;
  } catch {
    return false;
  }
}

export async function startSchemaRegistry(options: {
  preferredPort: number;
  logger: Logger;
  progress?: (text: string) => void;
}): Promise<SchemaRegistryState> {
  const jar = apicurioJar();
  if (!existsSync(jar))
    throw new MeshpipeError(ERRORS.SETUP_SCHEMA_REGISTRY_MISSING, [APICURIO_VERSION, jar]);
  const java = findJava();
  mkdirSync(dir, { recursive: true });
  const port = await choosePort(options.preferredPort);
  const logFile = join(dir, 'schema-registry.log');
  const pid = spawnService(
    java.command,
    [
      '-Xms64m',
      '-Xmx384m',
      '-XX:+UseSerialGC',
      '-Djava.awt.headless=true',
      `-Dquarkus.http.port=${port}`,
      '-Dquarkus.http.host=127.0.0.1',
      '-Dquarkus.log.level=WARN',
      '-jar',
      jar,
    ],
    logFile,
    dir,
  );
  const state: SchemaRegistryState = { pid, port, version: APICURIO_VERSION, logFile };
  const started = Date.now();
  const deadline = started + 180_000;
  while (Date.now() < deadline) {
    if (!isOurProcess(pid, SCHEMA_REGISTRY_MARKER)) {
      throw new MeshpipeError(ERRORS.STACK_START_FAILED, [
        `Apicurio Registry ${APICURIO_VERSION}`,
        `it exited; see ${logFile}`,
      ]);
    }
    if (await schemaRegistryAnswers(port)) return state;
    options.progress?.(
      `waiting for the Schema Registry on 127.0.0.1:${port} (${Math.round((Date.now() - started) / 1000)}s)`,
    );
    await sleep(250);
  }
  await stopProcess(pid, SCHEMA_REGISTRY_MARKER, 5000);
  throw new MeshpipeError(ERRORS.STACK_START_FAILED, [
    `Apicurio Registry ${APICURIO_VERSION}`,
    `not answering after 180 s; see ${logFile}`,
  ]);
}

export async function stopSchemaRegistry(state: SchemaRegistryState): Promise<void> {
  await stopProcess(state.pid, SCHEMA_REGISTRY_MARKER, 10_000);
}
