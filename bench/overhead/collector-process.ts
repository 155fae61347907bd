/**
 * `meshpipe collect` as a child process, from the TypeScript sources (what `meshpipe up` runs) or from
 * the precompiled JavaScript (precompile.ts). bench/collector/harness.ts's startCollectorProcess always
 * runs the sources; this is the same thing with the entry point as a parameter, and its metrics parsed
 * by the harness's own helpers.
 */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { CLI, type CollectorProcess, parseExposition } from '../collector/harness.ts';

export async function startCollector(options: {
  env: Record<string, string>;
  nodeFlags: string[];
  metricsPort: number;
  /** cli/main.ts (default) or a precompiled cli/main.js. */
  entry?: string;
}): Promise<CollectorProcess> {
  const child = spawn(process.execPath, [...options.nodeFlags, options.entry ?? CLI, 'collect'], {
    env: {
      ...process.env,
      MESHPIPE_LOG_LEVEL: 'warn',
      MESHPIPE_COLLECTOR_METRICS_PORT: String(options.metricsPort),
      ...options.env,
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  const base = `http://127.0.0.1:${options.metricsPort}`;
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`meshpipe collect exited with ${child.exitCode}: ${stderr}`);
    try {
      if ((await fetch(`${base}/healthz`)).status === 200) break;
    } catch {
      // not listening yet
    }
    if (i > 300) {
      child.kill('SIGKILL');
      throw new Error(`meshpipe collect did not become healthy within 30 s: ${stderr}`);
    }
    await sleep(100);
  }
  const agentPid = child.pid!;
  return {
    agentPid,
    loaderPid: () => loaderOf(agentPid),
    metrics: async () => parseExposition(await (await fetch(`${base}/metrics`)).text()),
    async stop() {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    },
  };
}

function loaderOf(parent: number): number | null {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'latin1');
      const close = stat.lastIndexOf(')');
      if (
        stat.slice(stat.indexOf('(') + 1, close) === 'meshpipe-loader' &&
        Number(stat.slice(close + 2).split(' ')[1]) === parent
      )
        return Number(entry);
    } catch {
      // gone
    }
  }
  return null;
}
