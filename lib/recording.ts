/**
 * Recordings: raw events saved to a file (`meshpipe record`) and played back later (`meshpipe replay`),
 * which is how users test processors against real traffic without a cluster.
 *
 * The file is a standard Avro Object Container File of `L7RawEvent` records, exactly as the collector
 * produces them to Kafka (already redacted and minimised), deflate-compressed. Any Avro tool can read it;
 * meshpipe reads longs as exact BigInts.
 */

import { once } from 'node:events';
import { createReadStream, createWriteStream } from 'node:fs';
import avro from 'avsc';
import { avroType } from '../schemas/avro-types.ts';
import { schemaRegistry } from '../schemas/registry.ts';
import type { L7RawEvent } from '../schemas/types.ts';

export interface RecordingWriter {
  /** Appends an event; throws once the file has failed (disk full, removed directory...). */
  write(event: L7RawEvent): void;
  /** Flushes and closes the file; resolves with the number of events written, rejects if writing failed. */
  close(): Promise<number>;
}

export function createRecordingWriter(path: string): RecordingWriter {
  const type = schemaRegistry().current('l7-raw-event').type;
  const encoder = new avro.streams.BlockEncoder(type, { codec: 'deflate' });
  const file = createWriteStream(path);
  // A failing file (ENOSPC, EACCES, a vanished directory) is an error to report, not a crash: remember
  // the first one; write() and close() hand it to the caller.
  let failure: Error | undefined;
  const fail = (err: Error) => {
    failure ??= err;
    encoder.unpipe(file);
    file.destroy();
  };
  file.on('error', fail);
  encoder.on('error', fail);
  encoder.pipe(file);
  let count = 0;
  return {
    write(event) {
      if (failure !== undefined) throw failure;
      encoder.write(event);
      count++;
    },
    async close() {
      if (failure === undefined) {
        encoder.end();
        await Promise.race([once(file, 'close'), once(file, 'error')]).catch(() => {});
      }
      if (failure !== undefined) throw failure;
      return count;
    },
  };
}

/** Reads every event of a recording, in order. */
export async function* readRecording(path: string): AsyncGenerator<L7RawEvent> {
  const decoder = createReadStream(path).pipe(
    new avro.streams.BlockDecoder({ parseHook: (schema) => avroType(schema) }),
  );
  for await (const event of decoder) yield event as L7RawEvent;
}
