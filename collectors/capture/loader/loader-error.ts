/**
 * Why meshpipe-loader could not run, as a typed error with a stable code and the fix.
 *
 * The loader's exit code names the class (`LoaderExitCode`, mirrored from enum mp_exit_code); its stderr
 * carries the specific cause and a "  fix: ..." line, which becomes `hint` when present because it is
 * more precise than the generic one below (e.g. which capability is missing).
 *
 * The codes are registered in lib/errors.ts and documented in docs/errors.md; `LoaderError` is a
 * `MeshpipeError`, so `isMeshpipeError` and the CLI's exit handling apply.
 */
import { ERRORS, type ErrorSpec, MeshpipeError } from '../../../lib/errors.ts';
import { LoaderExitCode } from './record-layout.ts';

/** The loader's codes: their specs live in lib/errors.ts with every other code. */
export const LOADER_ERRORS = {
  LOADER_BINARY_MISSING: ERRORS.LOADER_BINARY_MISSING,
  LOADER_USAGE: ERRORS.LOADER_USAGE,
  LOADER_NO_BTF: ERRORS.LOADER_NO_BTF,
  LOADER_PERMISSION: ERRORS.LOADER_PERMISSION,
  LOADER_TRACEFS: ERRORS.LOADER_TRACEFS,
  LOADER_KERNEL: ERRORS.LOADER_KERNEL,
  LOADER_FAILED: ERRORS.LOADER_FAILED,
  LOADER_ABI_MISMATCH: ERRORS.LOADER_ABI_MISMATCH,
  LOADER_STREAM_CORRUPT: ERRORS.LOADER_STREAM_CORRUPT,
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
