/**
 * Where the handlers' CPU goes, by area of the code, for profile.ts (bench/span-assembler): the first
 * area that matches a function wins.
 *
 *   node bench/processors/profile-areas.ts <file.cpuprofile>
 */
import { fileURLToPath } from 'node:url';
import { type ProfileArea, summarizeProfile } from '../span-assembler/profile.ts';

export const HANDLER_AREAS: ProfileArea[] = [
  ['garbage collection', (_u, f) => f === '(garbage collector)'],
  ['idle (waiting on the broker)', (_u, f) => f === '(idle)'],
  // Stopping the profiler (it serialises the profile while it still samples).
  ['profiler (node:inspector)', (u) => u.startsWith('node:inspector')],
  [
    'state store and JSON state codec',
    (u) => u.includes('runtime/state-codec') || u.includes('runtime/state-store'),
  ],
  ['trace-linker', (u) => u.includes('/processors/trace-linker/')],
  ['red-metrics', (u) => u.includes('/processors/red-metrics/')],
  ['processors/shared', (u) => u.includes('/processors/shared/')],
  [
    'avro (avsc and generated codecs)',
    (u, f) => u.includes('/avsc/') || u.includes('/schemas/') || /^(read|write)[A-Z]/.test(f),
  ],
  ['hashing (sha256)', (u, f) => u.includes('crypto/hash') || f === 'digest' || f === 'update'],
  ['processor runtime (tasks, emits)', (u) => u.includes('/processors/runtime/')],
  [
    'node buffers and strings',
    (u, f) =>
      u.startsWith('node:internal/buffer') || u.startsWith('node:buffer') || /Slice$|^writeBuffer$/.test(f),
  ],
  ['bench harness', (u) => u.includes('/bench/')],
];

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const summary = summarizeProfile(process.argv[2]!, 30, HANDLER_AREAS);
  console.table(summary.areas);
  console.table(summary.functions);
}
