import { documentSpec } from '../../lib/config/spec.ts';
import { errorMessage, isMeshpipeError } from '../../lib/errors.ts';
import { processorConfigSpec, resolveProcessorSettings } from '../../processors/runtime/config.ts';
import { ProcessorTopics } from '../../processors/runtime/processor-topics.ts';
import {
  builtinModulePath,
  builtinProcessorNames,
  loadProcessor,
} from '../../processors/runtime/registry.ts';
import type { CommandDefinition } from '../command.ts';

export const command: CommandDefinition = {
  name: 'processor list',
  summary: 'The built-in processors: what each reads and writes, and whether `up` runs it.',
  usage: 'processor list [--json]',
  description:
    'Topic names use kafka.topicPrefix. With --json, each processor also lists its configuration keys (processors.<name>.*) with type, default and documentation. A built-in processor whose module fails to load is listed with the error.',
  options: {},
  json: true,
  examples: ['meshpipe processor list', 'meshpipe processor list --json | jq ".[].config[].key"'],
  async run(ctx) {
    const { config } = ctx.config();
    const prefix = config.kafka.topicPrefix;
    const rows: Array<Record<string, unknown>> = [];
    for (const name of builtinProcessorNames()) {
      try {
        const { definition, module } = await loadProcessor(name);
        const topics = new ProcessorTopics(definition, prefix);
        rows.push({
          name,
          description: definition.description,
          enabled: resolveProcessorSettings(definition, config).enabled,
          module,
          group: `${prefix}-${name}`,
          inputs: topics.inputs.map((t) => t.name),
          outputs: topics.outputs.map((t) => t.name),
          punctuates: definition.punctuate !== undefined,
          config: documentSpec(processorConfigSpec(definition), `processors.${name}`),
        });
      } catch (err) {
        rows.push({
          name,
          module: builtinModulePath(name),
          error: { code: isMeshpipeError(err) ? err.code : null, message: errorMessage(err) },
        });
      }
    }
    if (ctx.json) {
      ctx.printJson(rows);
      return 0;
    }
    if (rows.length === 0) {
      ctx.out('no built-in processor is installed');
      return 0;
    }
    const width = Math.max(...rows.map((r) => String(r.name).length)) + 2;
    for (const row of rows) {
      if (row.error !== undefined) {
        const error = row.error as { message: string };
        ctx.out(`${String(row.name).padEnd(width)}cannot load: ${error.message}`);
        continue;
      }
      ctx.out(
        `${String(row.name).padEnd(width)}${row.enabled ? 'enabled ' : 'disabled'}  ${row.description}`,
      );
      ctx.out(
        `${''.padEnd(width)}  ${(row.inputs as string[]).join(', ')} → ${(row.outputs as string[]).join(', ') || '(no outputs)'}`,
      );
    }
    return 0;
  },
};
