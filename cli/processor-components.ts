/**
 * The built-in processors as `meshpipe up` components: one supervised child process per processor
 * (`meshpipe process <name>`), run unless `processors.<name>.enabled` is false. The registry
 * (processors/runtime/registry.ts) decides which processors exist.
 */
import { resolveProcessorSettings } from '../processors/runtime/config.ts';
import type { AnyProcessorDefinition } from '../processors/runtime/definition.ts';
import { builtinProcessorNames, loadProcessor } from '../processors/runtime/registry.ts';
import type { UpComponent } from './up-component.ts';

/**
 * How long a supervised processor may go without a status report before it is killed and restarted.
 * Reports come every second from the main thread, so only a handler that never returns (or a process
 * frozen for this long) misses them.
 */
export const PROCESSOR_STALL_MS = 15_000;

export async function processorComponents(): Promise<UpComponent[]> {
  const components: UpComponent[] = [];
  for (const name of builtinProcessorNames()) {
    let definition: AnyProcessorDefinition | undefined;
    try {
      definition = (await loadProcessor(name)).definition;
    } catch {
      // Its child process fails with the error and its code, visible in `up`'s status line and log.
      definition = undefined;
    }
    components.push({
      name: `processor/${name}`,
      // Validating here makes a bad `processors.<name>` section stop `up` with the key named, instead
      // of a child that fails and restarts forever.
      enabled: ({ config }) =>
        definition === undefined ? true : resolveProcessorSettings(definition, config).enabled,
      args: () => ['process', name],
      stallMs: PROCESSOR_STALL_MS,
    });
  }
  return components;
}
