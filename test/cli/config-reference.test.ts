/**
 * `meshpipe config` lists every key — the built-in processors' sections and the fields of list items
 * (alert receivers) included — with enum values spelled out, and docs/configuration.md is generated from
 * the same reference, so the page the error hints point at cannot drift from the spec.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { configReference, renderConfigurationPage } from '../../cli/config-reference.ts';
import type { DocRow } from '../../lib/config/spec.ts';
import { CONFIGURATION_PAGE } from '../../scripts/gen-config-docs.ts';
import { runCli } from '../helpers/cli.ts';

describe('the configuration reference', () => {
  it('docs/configuration.md is generated from the spec (node scripts/gen-config-docs.ts regenerates it)', async () => {
    assert.equal(readFileSync(CONFIGURATION_PAGE, 'utf8'), renderConfigurationPage(await configReference()));
  });

  it("meshpipe config --json lists the processors' keys, receiver fields and enum values", async () => {
    const r = await runCli(['config', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const rows = new Map((JSON.parse(r.stdout) as DocRow[]).map((row) => [row.key, row]));
    for (const key of [
      'processors.anomaly-detector.windowMs',
      'processors.anomaly-detector.warmupWindows',
      'processors.anomaly-detector.runtime.sessionTimeoutMs',
      'processors.red-metrics.windowMs',
      'processors.span-assembler.enabled',
      'processors.trace-linker.startFrom',
      'sinks.alerts.receivers[].url',
    ])
      assert.ok(rows.has(key), `${key} is listed`);
    assert.deepEqual(rows.get('kafka.saslMechanism')?.values, [
      'none',
      'plain',
      'scram-sha-256',
      'scram-sha-512',
    ]);
    assert.deepEqual(rows.get('processors.anomaly-detector.levels')?.values, ['route', 'service']);
    assert.equal(rows.get('processors.anomaly-detector.windowMs')?.default, 60_000);
  });

  it('the text listing shows enum values and every processor key', async () => {
    const r = await runCli(['config']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stdout,
      /^log\.level {2}\(enum: "fatal" \| "error" \| "warn" \| "info" \| "debug" \| "trace" \| "silent", default "info", env MESHPIPE_LOG_LEVEL\)$/m,
    );
    assert.match(
      r.stdout,
      /^processors\.anomaly-detector\.slo\.fast\.severity {2}\(enum: "INFO" \| "WARNING" \| "CRITICAL"/m,
    );
  });
});
