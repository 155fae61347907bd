import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Where the modules are: the checkout (this file is <root>/lib/paths.ts), or dist/ of the built package. */
const MODULES_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * The checkout meshpipe runs from, or the installed npm package (the parent of its dist/): where
 * package.json, scripts/versions.env, bpf/ and docs/ are.
 */
// dist/ has a package.json of its own (tsc copies the one the OTLP sink imports): versions.env decides.
export const PROJECT_ROOT = existsSync(join(MODULES_ROOT, 'scripts', 'versions.env'))
  ? MODULES_ROOT
  : dirname(MODULES_ROOT);

/** True in a checkout (scripts/setup installs the local stack); false in the npm package. */
export const IS_CHECKOUT = existsSync(join(PROJECT_ROOT, 'scripts', 'setup'));

/** The eBPF loader `make -C bpf` builds (the npm package ships bpf/ to build it where it is installed). */
export const LOADER_BINARY = join(PROJECT_ROOT, 'bpf', 'build', 'meshpipe-loader');

/**
 * Everything downloaded or generated lives under .local/ (git-ignored): Node 24, the Kafka jars, and the
 * local stack's data and logs. MESHPIPE_HOME moves it elsewhere.
 */
export const LOCAL_DIR = process.env.MESHPIPE_HOME ?? join(PROJECT_ROOT, '.local');

/** The local stack's state, data and logs; MESHPIPE_STACK_DIR runs a separate stack (tests do). */
export const STACK_DIR = process.env.MESHPIPE_STACK_DIR ?? join(LOCAL_DIR, 'stack');
export const STACK_STATE_FILE = join(STACK_DIR, 'state.json');

function readVersions(): Record<string, string> {
  const out: Record<string, string> = {};
  const text = readFileSync(join(PROJECT_ROOT, 'scripts', 'versions.env'), 'utf8');
  for (const line of text.split('\n')) {
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (m !== null) out[m[1]!] = m[2]!;
  }
  return out;
}

const versions = readVersions();

export const KAFKA_VERSION = process.env.MESHPIPE_KAFKA_VERSION ?? versions.KAFKA_VERSION ?? '3.9.2';
export const SCALA_VERSION = versions.SCALA_VERSION ?? '2.13';
export const NODE_VERSION = versions.NODE_VERSION ?? '24';
export const APICURIO_VERSION = versions.APICURIO_VERSION ?? '2.4.2.Final';
export const JAEGER_VERSION = versions.JAEGER_VERSION ?? 'v1.75.0';

/** Where scripts/setup puts the broker's jars for a Kafka version. */
export function kafkaLibsDir(version: string = KAFKA_VERSION): string {
  return join(LOCAL_DIR, 'kafka', version, 'libs');
}

export const KUBERNETES_VERSION = versions.KUBERNETES_VERSION ?? '1.37.2';
export const HELM_VERSION = versions.HELM_VERSION ?? '3.22.1';

/** kube-apiserver and etcd, built by scripts/build-kubernetes-tools. */
export function kubernetesBinDir(version: string = KUBERNETES_VERSION): string {
  return join(LOCAL_DIR, 'kubernetes', version, 'bin');
}

/** helm, built by scripts/build-kubernetes-tools. */
export function helmBinary(version: string = HELM_VERSION): string {
  return join(LOCAL_DIR, 'helm', version, 'bin', 'helm');
}

/** The Apicurio Registry runner jar scripts/setup builds (the local Schema Registry). */
export function apicurioJar(version: string = APICURIO_VERSION): string {
  return join(LOCAL_DIR, 'apicurio', version, 'target', `apicurio-registry-${version}-runner.jar`);
}

/** The Jaeger v2 binary scripts/setup builds (an OTLP receiver the OTLP sink's tests export to). */
export function jaegerBinary(version: string = JAEGER_VERSION): string {
  return join(LOCAL_DIR, 'jaeger', version, 'bin', 'jaeger');
}
