import { type LevelWithSilent, type Logger, pino } from 'pino';

export type { Logger };

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export interface LoggerOptions {
  /** Which part of meshpipe is logging: `collector`, `processor/span-assembler`, `cli`... */
  component: string;
  level?: LevelWithSilent;
  /** File descriptor or path; stderr by default so stdout stays free for command output. */
  destination?: number | string;
}

/**
 * Every meshpipe log line is pino JSON with a `component` field. Logs go to stderr: stdout belongs to
 * the command's output (`--json` data, tables), so `meshpipe tail --json | jq` never sees a log line.
 */
export function createLogger(options: LoggerOptions): Logger {
  const level = options.level ?? (process.env.MESHPIPE_LOG_LEVEL as LevelWithSilent | undefined) ?? 'info';
  const destination = pino.destination({ dest: options.destination ?? 2, sync: true, mkdir: true });
  return pino(
    {
      level,
      base: { component: options.component, pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
}
