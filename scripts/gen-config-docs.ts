/**
 * Generates docs/configuration.md — every configuration key with type, default, environment variable and
 * meaning — from the configuration spec (cli/config-reference.ts), so the page cannot drift from the
 * code. test/cli/config-reference.test.ts fails when it is stale; regenerate with:
 *
 *   node scripts/gen-config-docs.ts
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { configReference, renderConfigurationPage } from '../cli/config-reference.ts';

export const CONFIGURATION_PAGE = fileURLToPath(new URL('../docs/configuration.md', import.meta.url));

if (import.meta.main) {
  writeFileSync(CONFIGURATION_PAGE, renderConfigurationPage(await configReference()));
  process.stdout.write(`wrote ${CONFIGURATION_PAGE}\n`);
}
