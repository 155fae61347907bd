/**
 * The built-in processors' names, and the processor sections a configuration may not hold because of
 * them. Apart from the registry (registry.ts), which loads the modules, so that the section check needs
 * no processor loaded: config.ts runs it when it resolves a section, cli/main.ts whenever a command loads
 * the configuration (lib/config/section-names.ts says why a name near a built-in's is refused).
 */
import { checkSectionNames } from '../../lib/config/section-names.ts';

/**
 * The built-in processors, in pipeline order; each is processors/<name>/index.ts. A name is listed once
 * its module exists; until then (a processor being written) it is simply not offered.
 */
export const BUILTIN_PROCESSORS: readonly string[] = [
  'span-assembler',
  'trace-linker',
  'red-metrics',
  'anomaly-deltas',
  'anomaly-detector',
];

/**
 * Throws CONFIG_SECTION_MISSPELLED for a `processors.<name>` that is a typo of a built-in's name, unless
 * it belongs to a processor this command runs.
 */
export function checkProcessorSections(
  config: { readonly processors: Readonly<Record<string, unknown>> },
  running: readonly string[] = [],
): void {
  checkSectionNames('processors', config.processors, BUILTIN_PROCESSORS, running);
}
