/**
 * Why meshpipe-loader could not run, as a typed error with a stable code and the fix.
 *
 * The loader's exit code names the class (`LoaderExitCode`, mirrored from enum mp_exit_code); its stderr
 * carries the specific cause and a "  fix: ..." line, which becomes `hint` when present because it is
 * more precise than the generic one below (e.g. which capability is missing).
 *
 * These specs follow lib/errors.ts (`MESHPIPE_ERR_<AREA>_<WHAT>`) and are documented in docs/errors.md
 * by the owner of that registry; `LoaderError` is a `MeshpipeError`, so `isMeshpipeError` and the CLI's
 * exit handling apply.
 */
import { type ErrorSpec, EXIT, MeshpipeError } from '../../lib/errors.ts';
import { LoaderExitCode } from './record-layout.ts';

function spec(code: string, message: string, exitCode: number, hint: string): ErrorSpec {
  return { code, message, exitCode, hint };
}

export const LOADER_ERRORS = {
  LOADER_BINARY_MISSING: spec(
    'MESHPIPE_ERR_LOADER_BINARY_MISSING',
    'cannot start the eBPF loader %s: %s',
    EXIT.unavailable,
    'build it with `make -C bpf` (needs clang, bpftool and libbpf-dev)',
  ),
  LOADER_USAGE: spec(
    'MESHPIPE_ERR_LOADER_USAGE',
    'the eBPF loader rejected its options: %s',
    EXIT.software,
    'the agent passed options this loader build does not accept: rebuild with `make -C bpf`',
  ),
  LOADER_NO_BTF: spec(
    'MESHPIPE_ERR_LOADER_NO_BTF',
    'the kernel exposes no BTF: %s',
    EXIT.unavailable,
    'use a kernel built with CONFIG_DEBUG_INFO_BTF=y, or give the loader a BTF file for this kernel',
  ),
  LOADER_PERMISSION: spec(
    'MESHPIPE_ERR_LOADER_PERMISSION',
    'not permitted to load eBPF programs: %s',
    EXIT.permission,
    'run as root, or grant CAP_BPF, CAP_PERFMON and CAP_SYS_RESOURCE',
  ),
  LOADER_TRACEFS: spec(
    'MESHPIPE_ERR_LOADER_TRACEFS',
    'tracefs is not available: %s',
    EXIT.unavailable,
    'mount it: `mount -t tracefs tracefs /sys/kernel/tracing` (in a container, mount the host one)',
  ),
  LOADER_KERNEL: spec(
    'MESHPIPE_ERR_LOADER_KERNEL',
    'the kernel refused the eBPF capture: %s',
    EXIT.unavailable,
    'meshpipe needs Linux >= 5.12 with BTF, BPF ring buffers and syscall tracepoints',
  ),
  LOADER_FAILED: spec(
    'MESHPIPE_ERR_LOADER_FAILED',
    'the eBPF loader failed: %s',
    EXIT.software,
    'see the loader output in the message; restarting the agent restarts the loader',
  ),
  LOADER_ABI_MISMATCH: spec(
    'MESHPIPE_ERR_LOADER_ABI_MISMATCH',
    'the eBPF loader speaks record ABI %s, this agent ABI %s',
    EXIT.software,
    'rebuild the loader from the same checkout as the agent: `make -C bpf`',
  ),
} as const satisfies Record<string, ErrorSpec>;

export type LoaderErrorName = keyof typeof LOADER_ERRORS;

const BY_EXIT_CODE = new Map<number, LoaderErrorName>([
  [LoaderExitCode.USAGE, 'LOADER_USAGE'],
  [LoaderExitCode.NO_BTF, 'LOADER_NO_BTF'],
  [LoaderExitCode.PERMISSION, 'LOADER_PERMISSION'],
  [LoaderExitCode.TRACEFS, 'LOADER_TRACEFS'],
  [LoaderExitCode.KERNEL, 'LOADER_KERNEL'],
]);

export class LoaderError extends MeshpipeError {
  /** The loader's exit code, or null if it did not exit normally. */
  readonly loaderExitCode: number | null;
  readonly signal: string | null;
  /** The tail of the loader's stderr. */
  readonly stderr: string;

  constructor(
    name: LoaderErrorName,
    args: readonly unknown[],
    details: {
      exitCode?: number | null;
      signal?: string | null;
      stderr?: string;
      hint?: string;
      cause?: unknown;
    } = {},
  ) {
    const options: { cause?: unknown; hint?: string } = {};
    if (details.hint !== undefined) options.hint = details.hint;
    if (details.cause !== undefined) options.cause = details.cause;
    super(LOADER_ERRORS[name], args, options);
    this.name = 'LoaderError';
    this.loaderExitCode = details.exitCode ?? null;
    this.signal = details.signal ?? null;
    this.stderr = details.stderr ?? '';
  }
}

/**
 * The error for a loader that exited with `exitCode` (or died of `signal`) after printing `stderr`;
 * null for a clean exit (0).
 */
export function loaderErrorFromExit(
  exitCode: number | null,
  signal: string | null,
  stderr: string,
): LoaderError | null {
  if (exitCode === LoaderExitCode.OK) return null;
  const lines = stderr.split('\n');
  const problem =
    lines
      .filter((l) => l.startsWith('meshpipe-loader: '))
      .map((l) => l.slice('meshpipe-loader: '.length))
      .at(-1) ?? (signal !== null ? `killed by ${signal}` : `exit code ${exitCode}`);
  const fix = lines
    .filter((l) => l.startsWith('  fix: '))
    .map((l) => l.slice('  fix: '.length))
    .at(-1);
  const name = exitCode === null ? 'LOADER_FAILED' : (BY_EXIT_CODE.get(exitCode) ?? 'LOADER_FAILED');
  const details: { exitCode: number | null; signal: string | null; stderr: string; hint?: string } = {
    exitCode,
    signal,
    stderr,
  };
  if (fix !== undefined) details.hint = fix;
  return new LoaderError(name, [problem], details);
}
