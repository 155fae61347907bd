import { resolveCollectorConfig } from '../../collectors/config.ts';
import { redactConfig } from '../../lib/config/redact-config.ts';
import { loadBuiltinSinks, resolveSinkConfig } from '../../sinks/registry.ts';
import type { CommandDefinition } from '../command.ts';
import { configReference, defaultOf, typeOf } from '../config-reference.ts';

export const command: CommandDefinition = {
  name: 'config',
  summary:
    'Show every configuration key with its type, default and environment variable; or, with --effective, the validated configuration in use.',
  usage: 'config [--effective] [--json]',
  description:
    'Configuration comes from a JSON file (./meshpipe.json, --config or $MESHPIPE_CONFIG), environment variables and flags, in that order of precedence (flags win). Unknown keys and bad values are errors naming the key. The list includes the built-in processors (processors.<name>.*) and sinks (sinks.<name>.*); docs/configuration.md is the same reference.',
  options: { effective: { type: 'boolean', doc: 'Validate and print the configuration in effect.' } },
  json: true,
  async run(ctx) {
    if (ctx.values.effective === true) {
      const { config, file } = ctx.config();
      // The collector's and the built-in sinks' sections as they take effect: validated, defaults and
      // environment applied.
      const sinks: Record<string, unknown> = { ...config.sinks };
      for (const { definition } of await loadBuiltinSinks()) {
        sinks[definition.name] = resolveSinkConfig(definition, config);
      }
      const redacted = redactConfig({ ...config, collector: resolveCollectorConfig(config), sinks });
      if (ctx.json) ctx.printJson({ file: file ?? null, config: redacted });
      else {
        ctx.out(`# from ${file ?? '(no file: defaults and environment)'}`);
        ctx.out(JSON.stringify(redacted, null, 2));
      }
      return 0;
    }
    const rows = await configReference();
    if (ctx.json) {
      ctx.printJson(rows);
      return 0;
    }
    for (const row of rows) {
      const env = [row.env, ...(row.envAliases ?? [])].filter((n) => n !== undefined).join(', then ');
      ctx.out(`${row.key}  (${typeOf(row)}, default ${defaultOf(row)}${env === '' ? '' : `, env ${env}`})`);
      ctx.out(`    ${row.doc}`);
    }
    return 0;
  },
};
