/**
 * The built-in sinks as `meshpipe up` components: one supervised child process per sink
 * (`meshpipe sink <name>`), run when the sink's `runInUp` says so for its section (an OTLP endpoint is
 * set, alert receivers are configured...). The flags a sink marks `up: true` are `up`'s too, as
 * `--<sink>-<flag>` (`--otlp-endpoint`), and go on to the child. The registry (sinks/registry.ts)
 * decides which sinks exist.
 */
import { type LoadedSink, loadBuiltinSinks, resolveSinkConfig } from '../sinks/registry.ts';
import type { OptionSpec } from './command.ts';
import type { UpComponent } from './up-component.ts';

/** Sinks report status every 2 s, also while their receiver is down (retrying is reported, not silent). */
export const SINK_STALL_MS = 60_000;

const builtins: LoadedSink[] = await loadBuiltinSinks();

/** `up`'s flags on behalf of the sinks: `--<sink>-<flag>` for every flag a sink marks `up: true`. */
function upFlags({ definition }: LoadedSink): Array<{ option: string; flag: string; key: string }> {
  return Object.entries(definition.flags ?? {})
    .filter(([, spec]) => spec.up === true)
    .map(([flag, spec]) => ({ option: `${definition.name}-${flag}`, flag, key: spec.key }));
}

export function sinkUpOptions(): Record<string, OptionSpec> {
  const options: Record<string, OptionSpec> = {};
  for (const sink of builtins) {
    for (const { option, flag } of upFlags(sink)) {
      const spec = sink.definition.flags![flag]!;
      options[option] = {
        type: 'string',
        value: spec.value ?? '<value>',
        doc: `Also run the ${sink.definition.name} sink (meshpipe sink ${sink.definition.name} --${flag}): ${spec.doc}`,
      };
    }
  }
  return options;
}

export function sinkComponents(): UpComponent[] {
  return builtins.map((sink) => {
    const { definition } = sink;
    const given = (values: Record<string, unknown>) =>
      upFlags(sink).filter(({ option }) => typeof values[option] === 'string');
    return {
      name: `sink/${definition.name}`,
      // Validating here makes a bad `sinks.<name>` section stop `up` with the key named, instead of a
      // child that fails and restarts forever.
      enabled: ({ config, values }) => {
        const flags = given(values);
        if (flags.length > 0) return true;
        return definition.runInUp?.(resolveSinkConfig(definition, config)) === true;
      },
      args: ({ values }) => [
        'sink',
        definition.name,
        ...given(values).flatMap(({ option, flag }) => [`--${flag}`, values[option] as string]),
      ],
      stallMs: SINK_STALL_MS,
    };
  });
}
