/**
 * The status line's CPU per observed request: the components' CPU (read from /proc, the collector's
 * loader from its counters) over the window, divided by the requests span-assembler observed in it;
 * a restarted component (a new pid, counters from zero) never makes the totals go back.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { formatCost, PipelineCost } from '../../cli/pipeline-cost.ts';
import type { ComponentState } from '../../cli/stack/supervisor.ts';
import { procUsage } from '../../collectors/proc-usage.ts';

function state(name: string, pid: number, counters: Record<string, number>): ComponentState {
  return {
    name,
    pid,
    restarts: 0,
    lastStatusAt: Date.now(),
    status: { state: 'ok', summary: '', counters },
  } as ComponentState;
}

/** A process that burns CPU for `ms` (at most), then exits. */
function burner(ms: number) {
  const child = spawn(process.execPath, ['-e', `const end = Date.now() + ${ms}; while (Date.now() < end);`]);
  return { pid: child.pid!, kill: () => child.kill('SIGKILL') };
}

describe('pipeline cost', () => {
  it('divides the CPU the components used by the requests observed meanwhile', async () => {
    const cost = new PipelineCost();
    const busy = burner(3000);
    const t0 = Date.now();
    const before = procUsage(busy.pid)!.cpuSeconds;
    assert.equal(
      cost.sample([state('span-assembler', busy.pid, { 'event.requests_observed': 0 })], t0),
      null,
    );
    await sleep(800);
    const micros = cost.sample(
      [
        state('span-assembler', busy.pid, { 'event.requests_observed': 1000 }),
        state('collector', process.pid, { loaderCpuSeconds: 0.25 }),
      ],
      t0 + 1000,
    );
    const after = procUsage(busy.pid)!.cpuSeconds;
    busy.kill();
    // The burner's CPU between the samples (bracketed by our own reads, a clock tick either way) plus
    // the loader's 0.25 s, over 1000 requests; the collector's own CPU counts from its second sample.
    const low = ((after - before - 0.02) * 1e6 + 0.25e6) / 1000;
    assert.ok(micros !== null && micros >= low - 20, `${micros} µs, expected about ${low}`);
    assert.match(formatCost(micros)!, /^pipeline [\d.]+ µs CPU\/req$/);
  });

  it('keeps totals across a restart (a new pid counting from zero)', () => {
    const cost = new PipelineCost();
    const t0 = Date.now();
    cost.sample([state('span-assembler', 1_000_001, { 'event.requests_observed': 500 })], t0);
    const after = cost.sample(
      [state('span-assembler', 1_000_002, { 'event.requests_observed': 10 })],
      t0 + 1000,
    );
    // 500 before the restart and 10 after: 10 more in the window, never -490.
    assert.equal(after, 0);
    assert.equal(formatCost(null), null);
  });
});
