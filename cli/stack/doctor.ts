/**
 * `meshpipe doctor`: the facts that decide whether meshpipe can run here, each with the fix when it
 * fails. Checks are independent and cheap; network checks time out quickly.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { release } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { resolveCollectorConfig } from '../../collectors/config.ts';
import type { CheckResult } from '../../lib/check-result.ts';
import type { MeshpipeConfig } from '../../lib/config/meshpipe-config.ts';
import { findEndpoints, NO_BROKERS_FIX } from '../../lib/endpoints.ts';
import { errorMessage } from '../../lib/errors.ts';
import { createKafka, type KafkaClientOptions, kafkaOptionsFrom } from '../../lib/kafka.ts';
import type { Logger } from '../../lib/logger.ts';
import { maskUrl } from '../../lib/mask.ts';
import { IS_CHECKOUT, KAFKA_VERSION, kafkaLibsDir, LOADER_BINARY, PROJECT_ROOT } from '../../lib/paths.ts';
import { findJava } from './java.ts';
import { kafkaJarsInstalled } from './kafka-broker.ts';

const ok = (name: string, detail: string): CheckResult => ({ name, status: 'ok', detail });
const fail = (name: string, detail: string, fix: string): CheckResult => ({
  name,
  status: 'fail',
  detail,
  fix,
});
const warn = (name: string, detail: string, fix: string): CheckResult => ({
  name,
  status: 'warn',
  detail,
  fix,
});

/** The capture programs use BPF ring buffers (5.8) and atomic operations on maps (5.12); see bpf/README.md. */
const MIN_KERNEL: [number, number] = [5, 12];

export function checkKernel(kernelRelease = release()): CheckResult {
  const m = /^(\d+)\.(\d+)/.exec(kernelRelease);
  const [major, minor] = [Number(m?.[1] ?? 0), Number(m?.[2] ?? 0)];
  if (major > MIN_KERNEL[0] || (major === MIN_KERNEL[0] && minor >= MIN_KERNEL[1]))
    return ok('kernel', `Linux ${kernelRelease}`);
  return fail(
    'kernel',
    `Linux ${kernelRelease}`,
    `the collector needs Linux ${MIN_KERNEL.join('.')} or newer (BPF ring buffer, atomics)`,
  );
}

export function checkBtf(): CheckResult {
  return existsSync('/sys/kernel/btf/vmlinux')
    ? ok('btf', '/sys/kernel/btf/vmlinux present')
    : fail(
        'btf',
        '/sys/kernel/btf/vmlinux missing',
        'use a kernel built with CONFIG_DEBUG_INFO_BTF=y (most distribution kernels are)',
      );
}

export function checkTracefs(): CheckResult {
  for (const dir of ['/sys/kernel/tracing', '/sys/kernel/debug/tracing']) {
    if (existsSync(join(dir, 'events', 'syscalls')))
      return ok('tracefs', `${dir} mounted, syscall tracepoints present`);
  }
  return warn(
    'tracefs',
    'tracefs is not mounted',
    'the collector mounts it when it starts as root; or run: mount -t tracefs nodev /sys/kernel/tracing',
  );
}

/** CAP_PERFMON (38) and CAP_BPF (39) suffice on 5.8+; CAP_SYS_ADMIN (21) covers both. */
export function checkBpfPermission(statusText?: string): CheckResult {
  let text = statusText;
  try {
    text ??= readFileSync('/proc/self/status', 'utf8');
  } catch {
    return warn('bpf-permission', 'cannot read /proc/self/status', 'run the collector as root');
  }
  const hex = /^CapEff:\s*([0-9a-f]+)/m.exec(text)?.[1] ?? '0';
  const caps = BigInt(`0x${hex}`);
  const has = (bit: number) => (caps >> BigInt(bit)) & 1n;
  if (has(21) === 1n || (has(38) === 1n && has(39) === 1n))
    return ok('bpf-permission', 'may load BPF programs (CAP_BPF+CAP_PERFMON or CAP_SYS_ADMIN)');
  return fail(
    'bpf-permission',
    'missing CAP_BPF/CAP_PERFMON',
    'run as root, or grant CAP_BPF, CAP_PERFMON, CAP_SYS_RESOURCE and CAP_DAC_READ_SEARCH to the collector',
  );
}

/** How to build the loader, in a checkout or in an installed package. */
function bpfBuildFix(): string {
  return IS_CHECKOUT
    ? 'run scripts/setup (or: make -C bpf)'
    : `make -C ${join(PROJECT_ROOT, 'bpf')} (needs clang, bpftool, libbpf-dev and the kernel's BTF)`;
}

export function checkBpfBuild(): CheckResult {
  return existsSync(LOADER_BINARY)
    ? ok('bpf-programs', `built (${LOADER_BINARY})`)
    : fail('bpf-programs', 'the eBPF programs and loader are not built', bpfBuildFix());
}

/** One library of `meshpipe-loader --tls-scan`. */
export interface TlsLibraryFound {
  path: string;
  library: 'openssl' | 'boringssl';
  functions: string[];
  /** Processes mapping it (0: found on disk only). */
  processes: number;
  examples: Array<{ pid: number; comm: string }>;
}

const TLS_FIX_UNREAD =
  'BoringSSL, Go crypto/tls and rustls are not read: the TLS of those processes stays opaque (docs/collector.md, "TLS")';

/** The paths the running collector has TLS uprobes on (its /metrics), or null when none answers. */
async function collectorTlsBinaries(config: MeshpipeConfig): Promise<string[] | null> {
  const { metricsHost, metricsPort } = resolveCollectorConfig(config);
  const host = metricsHost === '0.0.0.0' || metricsHost === '::' ? '127.0.0.1' : metricsHost;
  try {
    const res = await fetch(`http://${host.includes(':') ? `[${host}]` : host}:${metricsPort}/metrics`, {
      signal: AbortSignal.timeout(1500),
    });
    if (!res.ok) return null;
    const paths: string[] = [];
    for (const m of (await res.text()).matchAll(
      /^meshpipe_collector_tls_binaries_attached\{path="((?:[^"\\]|\\.)*)"\} (\d+)/gm,
    ))
      if (Number(m[2]) > 0) paths.push(m[1]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c)));
    return paths;
  } catch {
    return null;
  }
}

/**
 * TLS plaintext capture: uprobes available, which TLS libraries the running processes use (the loader
 * scans /proc exactly as the collector does), and what a collector running on this node has attached.
 */
export async function checkTls(config: MeshpipeConfig): Promise<CheckResult> {
  const collector = resolveCollectorConfig(config);
  if (!collector.tls.enabled)
    return ok('tls', 'TLS capture is off (collector.tls.enabled): encrypted traffic is not read');
  if (!existsSync('/sys/bus/event_source/devices/uprobe/type'))
    return warn(
      'tls',
      'this kernel has no uprobe events: TLS traffic stays opaque',
      'TLS plaintext capture needs a kernel with CONFIG_UPROBES and CONFIG_UPROBE_EVENTS',
    );
  if (!existsSync(LOADER_BINARY))
    return warn('tls', 'cannot look for TLS libraries: the loader is not built', bpfBuildFix());
  let scan: { processes: number; unreadable: number; libraries: TlsLibraryFound[] };
  try {
    const { stdout } = await promisify(execFile)(LOADER_BINARY, ['--tls-scan'], {
      timeout: 20_000,
      maxBuffer: 16 << 20,
    });
    scan = JSON.parse(stdout);
  } catch (err) {
    return warn('tls', `cannot look for TLS libraries: ${errorMessage(err)}`, 'run meshpipe doctor as root');
  }
  const attached = await collectorTlsBinaries(config);
  const openssl = scan.libraries.filter((l) => l.library === 'openssl');
  const boringssl = scan.libraries.filter((l) => l.library === 'boringssl');
  const describe = (l: TlsLibraryFound) =>
    `${l.path} (${l.processes === 0 ? 'on disk' : `${l.processes} process${l.processes === 1 ? '' : 'es'}`})`;
  const parts = [
    `OpenSSL found: ${openssl.map(describe).join(', ') || 'none'}`,
    attached === null
      ? `no collector answering on ${collector.metricsHost}:${collector.metricsPort} to say what it attached`
      : `collector attached: ${attached.join(', ') || 'nothing yet'}`,
  ];
  if (boringssl.length > 0) parts.push(`BoringSSL (not read): ${boringssl.map(describe).join(', ')}`);
  const data = { found: scan.libraries, attached, processes: scan.processes, unreadable: scan.unreadable };
  if (boringssl.length > 0) return { ...warn('tls', parts.join('; '), TLS_FIX_UNREAD), data };
  if (scan.unreadable > 0) {
    parts.push(`${scan.unreadable} process${scan.unreadable === 1 ? '' : 'es'} not readable`);
    if (process.getuid?.() !== 0)
      return { ...warn('tls', parts.join('; '), 'run meshpipe doctor as root to see every process'), data };
  }
  return { ...ok('tls', parts.join('; ')), data };
}

export function checkJava(): CheckResult {
  try {
    const java = findJava();
    return ok('java', `${java.version} (${java.command})`);
  } catch (err) {
    return warn('java', errorMessage(err), 'run scripts/setup (needed only for the local Kafka broker)');
  }
}

export function checkKafkaJars(): CheckResult {
  return kafkaJarsInstalled()
    ? ok('kafka-jars', `Kafka ${KAFKA_VERSION} under ${kafkaLibsDir()}`)
    : warn(
        'kafka-jars',
        `Kafka ${KAFKA_VERSION} jars not installed`,
        IS_CHECKOUT
          ? 'run scripts/setup (needed only for the local Kafka broker)'
          : 'the npm package brings no local Kafka: set MESHPIPE_KAFKA_BROKERS (or --brokers) to your cluster',
      );
}

async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

export async function checkKafka(config: MeshpipeConfig, logger: Logger): Promise<CheckResult> {
  const { brokers } = await findEndpoints(config);
  if (brokers.length === 0) {
    return warn('kafka', 'no brokers configured and the local broker is not running', NO_BROKERS_FIX);
  }
  let options: KafkaClientOptions;
  try {
    options = kafkaOptionsFrom(config, logger, brokers);
  } catch (err) {
    // A TLS file that cannot be read: the message names the key.
    return fail('kafka', errorMessage(err), 'fix the configuration key it names');
  }
  const admin = createKafka({
    ...options,
    clientId: 'meshpipe-doctor',
    connectionTimeout: 2000,
  }).admin();
  try {
    const topics = await withTimeout(
      (async () => {
        await admin.connect();
        return admin.listTopics();
      })(),
      8000,
      'Kafka metadata request',
    );
    return ok('kafka', `${brokers.join(',')} reachable: ${topics.length} topic(s)`);
  } catch (err) {
    return fail(
      'kafka',
      `${brokers.join(',')}: ${errorMessage(err)}`,
      'check kafka.brokers / MESHPIPE_KAFKA_BROKERS and that the brokers are up',
    );
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

/** Speaks just enough RESP to PING: no client library needed for a health check. */
export function pingRedis(url: string, timeoutMs = 2000): Promise<string> {
  const u = new URL(url);
  return new Promise((resolvePromise, reject) => {
    const socket = connect({ host: u.hostname.replace(/^\[|\]$/g, ''), port: Number(u.port || 6379) });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    let reply = '';
    socket.on('connect', () => {
      const auth =
        u.password !== ''
          ? `AUTH ${u.username !== '' ? `${decodeURIComponent(u.username)} ` : ''}${decodeURIComponent(u.password)}\r\n`
          : '';
      socket.write(`${auth}PING\r\n`);
    });
    socket.on('data', (chunk) => {
      reply += chunk.toString('latin1');
      if (reply.includes('PONG') || reply.startsWith('-')) {
        clearTimeout(timer);
        socket.destroy();
        if (reply.includes('PONG')) resolvePromise('PONG');
        else reject(new Error(reply.trim()));
      }
    });
    socket.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

export async function checkRedis(config: MeshpipeConfig): Promise<CheckResult> {
  const url = (await findEndpoints(config)).redisUrl;
  if (url === '') {
    return warn(
      'redis',
      'no Redis configured and the local one is not running',
      '`meshpipe up` starts it; or set MESHPIPE_REDIS_URL',
    );
  }
  try {
    await pingRedis(url);
    return ok('redis', `${maskUrl(url)} answers PING`);
  } catch (err) {
    return fail(
      'redis',
      `${maskUrl(url)}: ${errorMessage(err)}`,
      'check redis.url / MESHPIPE_REDIS_URL and that Redis is up',
    );
  }
}

export function checkNode(): CheckResult {
  const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
  return major > 22 || (major === 22 && minor >= 18)
    ? ok('node', `Node.js ${process.version}`)
    : fail(
        'node',
        `Node.js ${process.version}`,
        'meshpipe needs Node.js 22.18+ (24 LTS recommended): run scripts/setup',
      );
}

export async function runChecks(config: MeshpipeConfig, logger: Logger): Promise<CheckResult[]> {
  const local = [
    checkNode(),
    checkKernel(),
    checkBtf(),
    checkTracefs(),
    checkBpfPermission(),
    checkBpfBuild(),
    checkJava(),
    checkKafkaJars(),
  ];
  const remote = await Promise.all([checkTls(config), checkKafka(config, logger), checkRedis(config)]);
  return [...local, ...remote];
}
