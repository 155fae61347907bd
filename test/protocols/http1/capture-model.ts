/**
 * A model of the kernel side, for tests: turns the byte stream of one direction, cut into syscall
 * buffers, into captured events the way the in-kernel capture does (README.md, "The model"):
 * - a buffer that starts with a message start is copied up to `cap` and opens a per-message budget;
 * - following buffers are copied while the budget lasts;
 * - an uncopied buffer carries the chunk-terminator flag when it ends with the last-chunk marker.
 */

import {
  detectMessageStart,
  endsWithChunkTerminator,
  MESSAGE_START,
} from '../../../protocols/http1/detect.ts';
import type { CapturedEvent, Direction, Role } from '../../../protocols/http1/types.ts';

export const KERNEL_COPY_CAP = 4096;
export const KERNEL_MESSAGE_BUDGET = 4096;

export interface KernelModel {
  cap: number;
  budget: number;
  remaining: number;
}

export function newKernelModel(cap = KERNEL_COPY_CAP, budget = KERNEL_MESSAGE_BUDGET): KernelModel {
  return { cap, budget, remaining: 0 };
}

/** Captures one syscall buffer. */
export function capture(
  model: KernelModel,
  direction: Direction,
  role: Role,
  buffer: Uint8Array,
): CapturedEvent {
  const start = detectMessageStart(buffer, 0, buffer.length);
  let copiedLen = 0;
  if (start === MESSAGE_START.request || start === MESSAGE_START.response) {
    copiedLen = Math.min(buffer.length, model.cap, model.budget);
    model.remaining = model.budget - copiedLen;
  } else if (model.remaining > 0) {
    copiedLen = Math.min(buffer.length, model.remaining);
    model.remaining -= copiedLen;
  }
  return {
    direction,
    role,
    copied: buffer.slice(0, copiedLen),
    byteCount: buffer.length,
    chunkTerminator: copiedLen === 0 && endsWithChunkTerminator(buffer),
  };
}

/** Cuts `stream` at the given offsets (sorted, deduplicated, inside the stream) into buffers. */
export function splitAt(stream: Uint8Array, cuts: readonly number[]): Uint8Array[] {
  const points = [...new Set(cuts.filter((c) => c > 0 && c < stream.length))].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let prev = 0;
  for (const p of [...points, stream.length]) {
    if (p > prev) out.push(stream.subarray(prev, p));
    prev = p;
  }
  return out;
}
