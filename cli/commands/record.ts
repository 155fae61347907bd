/**
 * `meshpipe record <file>`: the raw events this node captures, saved as a recording (lib/recording.ts:
 * an Avro container file of L7RawEvent) — exactly what the collector would produce to Kafka, redacted
 * and minimised, sequence numbers included. `meshpipe replay` feeds a recording to processors.
 */
import { rmSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  capturedTotal,
  droppedTotal,
  newCaptureCounters,
  truncatedTotal,
} from '../../collectors/capture-counters.ts';
import { createCapturePipeline } from '../../collectors/capture-pipeline.ts';
import { ERRORS, errorMessage, MeshpipeError } from '../../lib/errors.ts';
import { createRecordingWriter } from '../../sdk/recording.ts';
import type { CommandDefinition } from '../command.ts';

function formatBytes(n: number): string {
  if (n >= 1_048_576) return `${(n / 1_048_576).toFixed(1)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${n} B`;
}

export const command: CommandDefinition = {
  name: 'record',
  summary: 'Save the raw events this node captures to a recording file (for meshpipe replay).',
  usage: 'record <file> [--duration s] [--force] [--json]',
  description:
    'Captures with eBPF like `meshpipe collect` (same configuration, redaction and minimisation) and writes every raw event to <file>, an Avro object container file of L7RawEvent records (deflate), until Ctrl-C or --duration. The file is created readable by its owner only (0600); an existing file or a symbolic link is not written to (--force replaces a file). Shows progress on stderr; --json prints a summary at the end.',
  options: {
    duration: { type: 'string', value: '<seconds>', doc: 'Stop after this many seconds (default: Ctrl-C).' },
    force: {
      type: 'boolean',
      doc: 'Replace <file> if it exists (the link itself, if it is a symbolic link).',
    },
  },
  positionals: { min: 1, max: 1, names: ['file'] },
  json: true,
  examples: ['sudo meshpipe record traffic.avro --duration 60', 'meshpipe replay traffic.avro'],
  async run(ctx) {
    const file = ctx.positionals[0]!;
    const durationMs = ctx.values.duration === undefined ? 0 : Number(ctx.values.duration) * 1000;
    if (!Number.isFinite(durationMs) || durationMs < 0)
      throw new MeshpipeError(ERRORS.CLI_BAD_ARGUMENTS, ['--duration must be a number of seconds']);
    const { config } = ctx.config();

    let writer: ReturnType<typeof createRecordingWriter>;
    let writeError: unknown = null;
    try {
      // rm does not follow a symbolic link: it removes the link, and the new file is created in its place.
      if (ctx.values.force === true) rmSync(file, { force: true });
      writer = createRecordingWriter(file);
    } catch (err) {
      const why =
        (err as NodeJS.ErrnoException).code === 'EEXIST'
          ? 'it exists (a recording never overwrites a file nor follows a symbolic link: remove it, or --force)'
          : errorMessage(err);
      throw new MeshpipeError(ERRORS.COLLECTOR_RECORDING_FAILED, [file, why]);
    }
    let seq = 0n;
    let written = 0;
    const counters = newCaptureCounters();
    const pipeline = createCapturePipeline({
      config,
      logger: ctx.logger,
      counters,
      emit: (event) => {
        if (writeError !== null) return;
        // Numbered like the collector numbers what it produces.
        event.seq = seq++;
        try {
          writer.write(event);
          written++;
        } catch (err) {
          writeError = err;
        }
      },
    });
    ctx.progress.update('starting the eBPF capture');
    await pipeline.capture.start();
    const started = Date.now();
    const stopped = new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve()));
    const progress = setInterval(() => {
      const seconds = Math.round((Date.now() - started) / 1000);
      ctx.progress.update(
        `recording to ${file}: ${written} events, ${formatBytes(counters.bytes.egress + counters.bytes.ingress)} of traffic seen, ${seconds} s`,
      );
    }, 1000);
    await (durationMs > 0 ? Promise.race([stopped, sleep(durationMs)]) : stopped);
    clearInterval(progress);
    await pipeline.stop();
    let events: number;
    try {
      events = await writer!.close();
    } catch (err) {
      writeError ??= err;
      events = written;
    }
    if (writeError !== null)
      throw new MeshpipeError(ERRORS.COLLECTOR_RECORDING_FAILED, [file, errorMessage(writeError)]);
    const summary = {
      file,
      events,
      captured: capturedTotal(counters),
      dropped: droppedTotal(counters),
      truncated: truncatedTotal(counters),
      seconds: (Date.now() - started) / 1000,
    };
    ctx.progress.done(
      `recorded ${events} events to ${file} (${summary.dropped} dropped before the file, ${summary.truncated} truncated)`,
    );
    if (ctx.json) ctx.printJson(summary);
    return 0;
  },
};
