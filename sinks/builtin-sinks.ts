/**
 * The built-in sinks' names, and the sink sections a configuration may not hold because of them. Apart
 * from the registry (sinks/registry.ts), which loads the modules, so that cli/main.ts can check every
 * configuration it loads without loading a sink (lib/config/section-names.ts says why a name near a
 * built-in's is refused).
 */
import { checkSectionNames } from '../lib/config/section-names.ts';

/** The built-in sinks, in the order `meshpipe up` starts them; each is sinks/<name>/sink.ts. */
export const BUILTIN_SINKS: readonly string[] = ['otlp', 'prometheus', 'alerts'];

/**
 * Throws CONFIG_SECTION_MISSPELLED for a `sinks.<name>` that is a typo of a built-in's name, unless it
 * belongs to a sink this command runs.
 */
export function checkSinkSections(
  config: { readonly sinks: Readonly<Record<string, unknown>> },
  running: readonly string[] = [],
): void {
  checkSectionNames('sinks', config.sinks, BUILTIN_SINKS, running);
}
