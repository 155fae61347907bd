/**
 * Progress for long-running CLI work. On a terminal: one line on stderr, rewritten in place. Elsewhere
 * (CI logs, pipes): a plain line when the text changes, at most every `quietMs`, so logs stay readable.
 */
export interface Progress {
  update(text: string): void;
  /** Ends the progress line, optionally printing a final line. */
  done(text?: string): void;
}

const ANSI_SGR = /\x1b\[[0-9;]*m/g;

export function createProgress(
  options: { stream?: NodeJS.WriteStream; quietMs?: number; enabled?: boolean } = {},
): Progress {
  const stream = options.stream ?? process.stderr;
  if (options.enabled === false) return { update() {}, done() {} };
  const tty = stream.isTTY === true;
  const quietMs = options.quietMs ?? 2000;
  let last = '';
  let lastAt = 0;
  let drawn = false;
  return {
    update(text) {
      if (tty) {
        const columns = stream.columns ?? 120;
        // Colour codes take no columns; a line too long for the terminal is cut without them.
        const plain = text.replace(ANSI_SGR, '');
        stream.write(`\r\x1b[2K${plain.length > columns - 1 ? `${plain.slice(0, columns - 2)}…` : text}`);
        drawn = true;
        return;
      }
      const now = Date.now();
      if (text !== last && now - lastAt >= quietMs) {
        stream.write(`${text}\n`);
        lastAt = now;
      }
      last = text;
    },
    done(text) {
      if (tty && drawn) stream.write('\r\x1b[2K');
      drawn = false;
      if (text !== undefined) stream.write(`${text}\n`);
    },
  };
}
