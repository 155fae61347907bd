/**
 * Runs bpf/build/meshpipe-loader as a child process and hands its records to the agent as decoded
 * batches (one batch per pipe chunk).
 *
 *   const loader = LoaderProcess.start({ ports: [8080] });
 *   const ready = await loader.ready;             // programs attached; rejects with a LoaderError
 *   for await (const batch of loader.batches()) { ... }   // ends when the loader stops
 *   await loader.stop();
 *
 * Backpressure is the pipe's: batches are decoded only as fast as they are consumed (plus a small
 * queue), so a slow consumer fills the pipe, and the loader then drops records in user space and counts
 * them in its STATS records, never slowing the traced applications. The loader watches its stdin: if
 * this process dies, the pipe closes and the loader exits by itself.
 *
 * Restarting is the agent's business: this class reports how the loader ended (`exited`) and turns
 * a failed start into a typed LoaderError with the fix.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { LOADER_BINARY } from '../../../lib/paths.ts';
import { LoaderError, loaderErrorFromExit } from './loader-error.ts';
import { type LoaderRecord, type ReadyRecord, RecordDecoder, RecordStreamError } from './record-decoder.ts';
import { LAYOUT } from './record-layout.ts';

export const DEFAULT_LOADER_BINARY = LOADER_BINARY;

export interface LoaderOptions {
  /** Path of meshpipe-loader. Default: bpf/build/meshpipe-loader of this checkout. */
  binary?: string;
  /** Bytes copied per HTTP message and direction (1..8192). Default 4096. */
  capBytes?: number;
  /**
   * HTTP/2: bytes of each DATA payload copied from buffers larger than `capBytes` (0..4096). Default 5
   * (the gRPC message prefix). The collector's frame readers must be given the same number.
   */
  h2DataBytes?: number;
  /** Processes never traced. This process is always excluded (its Kafka traffic must not loop back). */
  excludePids?: readonly number[];
  /** Only trace these processes. Default: all. */
  pids?: readonly number[];
  /** Only trace connections with one of these local or peer ports. Default: all. */
  ports?: readonly number[];
  /** Only trace tasks in these cgroups v2 (ids, or cgroup directory paths). Default: all. */
  cgroups?: readonly (number | bigint | string)[];
  /** Ring-buffer drain interval in ms. Default 10. */
  pollMs?: number;
  /** STATS record interval in ms. Default 1000. */
  statsMs?: number;
  /** Ring-buffer size in MiB (power of two). Default 8. */
  ringMb?: number;
  /** Connections tracked at once. Default 65536. */
  maxConns?: number;
  /** Loader-side output buffer in MiB before it drops. Default 4. */
  outputMb?: number;
  /** BTF file for kernels without /sys/kernel/btf/vmlinux. */
  btf?: string;
  /** Report failed non-blocking connects (sock:inet_sock_set_state). Default true. */
  asyncConnect?: boolean;
  /** Run the loader under SCHED_IDLE (bpf/loader/schedule.c says why). Default false. */
  schedIdle?: boolean;
  /** Processes whose every thread the loader puts under SCHED_IDLE too (Node cannot do it itself). */
  schedIdlePids?: readonly number[];
  /** Capture TLS plaintext with uprobes on OpenSSL (bpf/README.md, "TLS"). Default false. */
  tls?: boolean;
  /** Only read the TLS of executables matching these globs (a path, or a file name). Default: all. */
  tlsBinaries?: readonly string[];
  /** Only read the TLS of processes in network namespaces named like these globs. Default: all. */
  tlsPods?: readonly string[];
  /**
   * Resolve the real destination of NATed client connections (a ClusterIP) from conntrack, in the
   * network namespace at `conntrackNetns` (default: the loader's; kube-proxy's DNAT happens in the
   * node's). Needs CAP_NET_ADMIN; without it the loader says so and goes on.
   */
  conntrack?: boolean;
  conntrackNetns?: string;
  /** Decoded batches buffered ahead of the consumer before reading pauses. Default 64. */
  maxQueuedBatches?: number;
  /** Called with each stderr line of the loader (for the agent's log). */
  onStderr?: (line: string) => void;
}

export interface LoaderExit {
  /** Exit code, or null when killed by a signal. */
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** Why it failed; null for a clean stop (exit 0, or the signal `stop()` sent). */
  readonly error: LoaderError | null;
}

const STDERR_KEEP = 64 * 1024;

/** The command line for `options` (exported for tests and for logging what was run). */
export function loaderArguments(options: LoaderOptions): string[] {
  const args: string[] = [];
  const flag = (name: string, value: number | bigint | string | undefined) => {
    if (value !== undefined) args.push(`--${name}`, String(value));
  };
  flag('cap-bytes', options.capBytes);
  flag('h2-data-bytes', options.h2DataBytes);
  flag('poll-ms', options.pollMs);
  flag('stats-ms', options.statsMs);
  flag('ring-mb', options.ringMb);
  flag('max-conns', options.maxConns);
  flag('output-mb', options.outputMb);
  flag('btf', options.btf);
  const excluded = new Set([process.pid, ...(options.excludePids ?? [])]);
  for (const pid of excluded) flag('exclude-pid', pid);
  for (const pid of options.pids ?? []) flag('pid', pid);
  for (const port of options.ports ?? []) flag('port', port);
  for (const cgroup of options.cgroups ?? []) flag('cgroup', cgroup);
  if (options.asyncConnect === false) args.push('--no-async-connect');
  if (options.schedIdle === true) args.push('--sched-idle');
  if (options.conntrackNetns !== undefined) flag('conntrack-netns', options.conntrackNetns);
  else if (options.conntrack === true) args.push('--conntrack');
  for (const pid of options.schedIdlePids ?? []) flag('sched-idle-pid', pid);
  if (options.tls === true) {
    args.push('--tls');
    for (const glob of options.tlsBinaries ?? []) flag('tls-binary', glob);
    for (const glob of options.tlsPods ?? []) flag('tls-pod', glob);
  }
  return args;
}

export class LoaderProcess {
  readonly pid: number | undefined;
  /** Resolves with the READY record once every program is attached; rejects if the loader fails first. */
  readonly ready: Promise<ReadyRecord>;
  /** Resolves when the loader has exited and its output is fully read. Never rejects. */
  readonly exited: Promise<LoaderExit>;
  readonly decoder = new RecordDecoder();

  #child: ChildProcess;
  #stderr = '';
  #stopping = false;
  #queue: LoaderRecord[][] = [];
  #ended = false;
  #streamError: Error | null = null;
  #wakeConsumer: (() => void) | null = null;
  #wakeProducer: (() => void) | null = null;
  #maxQueued: number;
  #iterating = false;
  #resolveReady!: (ready: ReadyRecord) => void;
  #rejectReady!: (err: Error) => void;
  #readySeen = false;

  static start(options: LoaderOptions = {}): LoaderProcess {
    return new LoaderProcess(options);
  }

  private constructor(options: LoaderOptions) {
    this.#maxQueued = options.maxQueuedBatches ?? 64;
    this.ready = new Promise<ReadyRecord>((resolve, reject) => {
      this.#resolveReady = resolve;
      this.#rejectReady = reject;
    });
    // A caller that only iterates must not crash the process with an unhandled rejection.
    this.ready.catch(() => {});

    const binary = options.binary ?? DEFAULT_LOADER_BINARY;
    this.#child = spawn(binary, loaderArguments(options), { stdio: ['pipe', 'pipe', 'pipe'] });
    this.pid = this.#child.pid;

    const spawnFailed = new Promise<LoaderExit>((resolve) => {
      this.#child.once('error', (err: NodeJS.ErrnoException) => {
        const error = new LoaderError('LOADER_BINARY_MISSING', [binary, err.message], { cause: err });
        this.#rejectReady(error);
        resolve({ code: null, signal: null, error });
      });
    });
    this.#child.stdin!.on('error', () => {}); // EPIPE if the loader is already gone
    this.#collectStderr(options.onStderr);
    const pumped = this.#pump();
    const closed = new Promise<[number | null, NodeJS.Signals | null]>((resolve) => {
      this.#child.once('close', (code, signal) => resolve([code, signal]));
    });
    this.exited = Promise.race([
      spawnFailed,
      Promise.all([closed, pumped]).then(([[code, signal]]) => this.#finish(code, signal)),
    ]);
  }

  /** The decoded batches, in order. Single consumer. Ends when the loader exits; throws its LoaderError. */
  async *batches(): AsyncGenerator<LoaderRecord[], void, undefined> {
    if (this.#iterating) throw new Error('LoaderProcess.batches() has a consumer already');
    this.#iterating = true;
    for (;;) {
      const batch = this.#queue.shift();
      if (batch !== undefined) {
        this.#wakeProducer?.();
        yield batch;
        continue;
      }
      if (this.#ended) break;
      await new Promise<void>((resolve) => {
        this.#wakeConsumer = resolve;
      });
      this.#wakeConsumer = null;
    }
    const exit = await this.exited;
    if (exit.error !== null) throw exit.error;
  }

  /** SIGTERM, then SIGKILL after `timeoutMs`. Resolves with how it ended. */
  async stop(timeoutMs = 5000): Promise<LoaderExit> {
    this.#stopping = true;
    const child = this.#child;
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      await this.exited;
      clearTimeout(timer);
    }
    return this.exited;
  }

  #collectStderr(onLine: ((line: string) => void) | undefined): void {
    let partial = '';
    this.#child.stderr!.setEncoding('utf8');
    this.#child.stderr!.on('data', (text: string) => {
      this.#stderr = (this.#stderr + text).slice(-STDERR_KEEP);
      if (onLine === undefined) return;
      const lines = (partial + text).split('\n');
      partial = lines.pop()!;
      for (const line of lines) onLine(line);
    });
  }

  async #pump(): Promise<void> {
    try {
      for await (const chunk of this.#child.stdout! as AsyncIterable<Buffer>) {
        const batch = this.decoder.push(chunk);
        if (batch.length === 0) continue;
        if (!this.#readySeen) this.#checkReady(batch);
        this.#queue.push(batch);
        this.#wakeConsumer?.();
        // Pause reading (and let the pipe fill) while the consumer is behind.
        while (this.#queue.length >= this.#maxQueued && !this.#ended) {
          await new Promise<void>((resolve) => {
            this.#wakeProducer = resolve;
          });
          this.#wakeProducer = null;
        }
      }
      this.decoder.end();
    } catch (err) {
      this.#streamError = err as Error;
      this.#child.kill('SIGTERM');
    } finally {
      this.#ended = true;
      this.#wakeConsumer?.();
    }
  }

  #checkReady(batch: LoaderRecord[]): void {
    const first = batch[0]!;
    this.#readySeen = true;
    if (first.kind !== 'ready') {
      this.#streamError = new LoaderError('LOADER_FAILED', [`first record is ${first.kind}, not ready`]);
    } else if (first.abiVersion !== LAYOUT.abiVersion) {
      this.#streamError = new LoaderError('LOADER_ABI_MISMATCH', [first.abiVersion, LAYOUT.abiVersion]);
    } else {
      this.#resolveReady(first);
      return;
    }
    this.#rejectReady(this.#streamError);
    this.#child.kill('SIGTERM');
  }

  #finish(code: number | null, signal: NodeJS.Signals | null): LoaderExit {
    let error: LoaderError | null;
    if (this.#streamError instanceof LoaderError) {
      error = this.#streamError;
    } else if (this.#streamError !== null) {
      const name = this.#streamError instanceof RecordStreamError ? 'LOADER_STREAM_CORRUPT' : 'LOADER_FAILED';
      error = new LoaderError(name, [this.#streamError.message], {
        cause: this.#streamError,
        exitCode: code,
        signal,
        stderr: this.#stderr,
      });
    } else if (this.#stopping && (code === 0 || signal !== null)) {
      error = null; // we asked it to stop
    } else {
      error = loaderErrorFromExit(code, signal, this.#stderr);
    }
    if (!this.#readySeen) {
      this.#rejectReady(error ?? new LoaderError('LOADER_FAILED', ['exited before it was ready']));
    }
    return { code, signal, error };
  }
}
