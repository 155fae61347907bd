/**
 * The candidate clients, installed by the benchmark itself into git-ignored folders
 * (`.local/bench-clients/<client>`), never into package.json: they are being evaluated, not used.
 * kafkajs is the project's own dependency.
 *
 * @confluentinc/kafka-javascript's install script (node-pre-gyp) first downloads a prebuilt binary from
 * GitHub. Where that is unreachable it falls back to node-gyp, which builds the bundled librdkafka: by
 * default statically, with librdkafka's `--install-deps --source-deps-only`, which downloads zlib,
 * OpenSSL, zstd and curl sources from their project sites — unreachable as well, so that build fails.
 * With `CKJS_LINKING=dynamic` it configures the bundled librdkafka against the system's libraries
 * (Debian's -dev packages) instead, and links the addon to the librdkafka.so it built. That is what
 * is done here; `npm_config_nodedir` points node-gyp at the headers shipped with the running Node, so
 * it does not download them either. The time it takes is part of the comparison (install.json).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ClientName } from './driver.ts';

export const REPO = fileURLToPath(new URL('../../..', import.meta.url));
export const CLIENTS_DIR = join(REPO, '.local', 'bench-clients');

/** The candidate versions measured (kafkajs: whatever package-lock.json pins). */
export const VERSIONS = {
  platformatic: '2.12.1',
  confluent: '1.10.1',
} as const;

const PACKAGES = {
  platformatic: '@platformatic/kafka',
  confluent: '@confluentinc/kafka-javascript',
} as const;

/** Debian packages the librdkafka build needs, and those that only add features. */
export const CONFLUENT_DEBIAN = {
  required: ['build-essential', 'python3', 'libssl-dev', 'zlib1g-dev'],
  optional: {
    'libzstd-dev': 'zstd compression',
    'libsasl2-dev': 'SASL GSSAPI (Kerberos)',
    'libcurl4-openssl-dev': 'OAUTHBEARER/OIDC token retrieval',
  },
} as const;

export interface InstallRecord {
  client: ClientName;
  package: string;
  version: string;
  /** Wall and CPU (the whole npm process tree) time of the install, when it ran. */
  wallSeconds: number | null;
  cpuSeconds: number | null;
  installedAt: string | null;
  nodeModulesMiB: number | null;
  notes: string[];
}

function debianInstalled(pkg: string): boolean {
  try {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's format
    return execFileSync('dpkg-query', ['-W', '-f=${Status}', pkg], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).includes('install ok installed');
  } catch {
    return false;
  }
}

/** CPU seconds of this process's reaped children (cutime + cstime in /proc/self/stat). */
function childrenCpuSeconds(): number {
  const stat = readFileSync('/proc/self/stat', 'latin1');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[13]) + Number(fields[14])) / 100;
}

function duMiB(path: string): number | null {
  try {
    return Math.round(Number(execFileSync('du', ['-sk', path], { encoding: 'utf8' }).split('\t')[0]) / 1024);
  } catch {
    return null;
  }
}

export function clientDir(client: Exclude<ClientName, 'kafkajs'>): string {
  return join(CLIENTS_DIR, client);
}

/** The entry point of an installed candidate (throws if it is not installed). */
export function resolveClient(client: Exclude<ClientName, 'kafkajs'>): string {
  return createRequire(join(clientDir(client), 'package.json')).resolve(PACKAGES[client]);
}

function recordPath(client: Exclude<ClientName, 'kafkajs'>): string {
  return join(clientDir(client), 'meshpipe-install.json');
}

function installed(client: Exclude<ClientName, 'kafkajs'>): InstallRecord | null {
  const path = recordPath(client);
  if (!existsSync(path)) return null;
  const record = JSON.parse(readFileSync(path, 'utf8')) as InstallRecord;
  return record.version === VERSIONS[client] ? record : null;
}

/**
 * Installs a candidate if it is not installed at the measured version; returns its install record,
 * or throws with what is missing. `log` gets one line per step (an install can take minutes).
 */
export function ensureClient(client: ClientName, log: (line: string) => void): InstallRecord {
  if (client === 'kafkajs') {
    const pkg = createRequire(join(REPO, 'package.json'))('kafkajs/package.json') as { version: string };
    return {
      client,
      package: 'kafkajs',
      version: pkg.version,
      wallSeconds: null,
      cpuSeconds: null,
      installedAt: null,
      nodeModulesMiB: duMiB(join(REPO, 'node_modules', 'kafkajs')),
      notes: ['the project dependency (npm ci); pure JavaScript, no dependencies'],
    };
  }
  const done = installed(client);
  if (done !== null) return done;

  const dir = clientDir(client);
  const notes: string[] = [];
  const env: NodeJS.ProcessEnv = { ...process.env };
  if (client === 'confluent') {
    const missing = CONFLUENT_DEBIAN.required.filter((p) => !debianInstalled(p));
    if (missing.length > 0)
      throw new Error(
        `@confluentinc/kafka-javascript builds librdkafka here and needs: apt-get install ${missing.join(' ')}`,
      );
    for (const [pkg, what] of Object.entries(CONFLUENT_DEBIAN.optional)) {
      notes.push(`${pkg} ${debianInstalled(pkg) ? 'present' : 'absent'}: ${what}`);
    }
    env.CKJS_LINKING = 'dynamic';
    const nodeDir = dirname(dirname(process.execPath));
    if (existsSync(join(nodeDir, 'include', 'node', 'node.h'))) env.npm_config_nodedir = nodeDir;
  }
  log(
    `installing ${PACKAGES[client]}@${VERSIONS[client]} into ${dir}${client === 'confluent' ? ' (builds librdkafka: several minutes)' : ''}`,
  );
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'package.json'),
    `${JSON.stringify({ private: true, description: 'meshpipe bench: a Kafka client under evaluation' })}\n`,
  );
  const cpu0 = childrenCpuSeconds();
  const t0 = performance.now();
  const npm = spawnSync(
    'npm',
    ['install', '--no-audit', '--no-fund', '--foreground-scripts', `${PACKAGES[client]}@${VERSIONS[client]}`],
    { cwd: dir, env, encoding: 'utf8', maxBuffer: 256 * 2 ** 20 },
  );
  const wallSeconds = (performance.now() - t0) / 1000;
  const cpuSeconds = childrenCpuSeconds() - cpu0;
  writeFileSync(join(dir, 'install.log'), `${npm.stdout ?? ''}\n${npm.stderr ?? ''}`);
  if (npm.status !== 0)
    throw new Error(
      `npm install of ${PACKAGES[client]} failed (exit ${npm.status}); see ${join(dir, 'install.log')}`,
    );
  if (
    client === 'confluent' &&
    /ENOTFOUND|unreachable|Pre-built binaries not installable/.test(npm.stdout + npm.stderr)
  )
    notes.unshift(
      'prebuilt binary unreachable: built from the bundled librdkafka sources (CKJS_LINKING=dynamic)',
    );
  const record: InstallRecord = {
    client,
    package: PACKAGES[client],
    version: VERSIONS[client],
    wallSeconds: Math.round(wallSeconds * 10) / 10,
    cpuSeconds: Math.round(cpuSeconds * 10) / 10,
    installedAt: new Date().toISOString(),
    nodeModulesMiB: duMiB(join(dir, 'node_modules')),
    notes,
  };
  writeFileSync(recordPath(client), `${JSON.stringify(record, null, 2)}\n`);
  log(`installed ${PACKAGES[client]} in ${record.wallSeconds} s (${record.cpuSeconds} s CPU)`);
  return record;
}
