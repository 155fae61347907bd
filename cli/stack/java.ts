import { ERRORS, MeshpipeError } from '../../lib/errors.ts';
import { run } from './processes.ts';

export interface JavaInfo {
  command: string;
  version: string;
  major: number;
}

/** The Java the local broker runs on: $JAVA_HOME/bin/java, else `java` on PATH. Kafka 3.9 needs 11+, 4.x 17+. */
export function findJava(): JavaInfo {
  const home = process.env.JAVA_HOME;
  const command = home !== undefined && home !== '' ? `${home}/bin/java` : 'java';
  const result = run(command, ['-version'], { timeoutMs: 15_000 });
  if (!result.ok) {
    throw new MeshpipeError(ERRORS.SETUP_JAVA_MISSING, [
      result.error?.message ?? `${command} -version failed`,
    ]);
  }
  const m = /version "(\d+)(?:\.(\d+))?[^"]*"/.exec(result.output);
  const first = Number(m?.[1] ?? 0);
  const major = first === 1 ? Number(m?.[2] ?? 0) : first;
  if (major < 17) {
    throw new MeshpipeError(ERRORS.SETUP_JAVA_MISSING, [`found Java ${major}, need 17 or newer`]);
  }
  return { command, version: m?.[0] ?? 'unknown', major };
}
