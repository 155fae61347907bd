/**
 * What `meshpipe up` runs besides Kafka and Redis. Each entry is one child process under the
 * supervisor (cli/stack/supervisor.ts); components add themselves here, with any flags they need on `up`.
 */
import type { OptionSpec } from './command.ts';
import { processorComponents } from './processor-components.ts';
import { sinkComponents, sinkUpOptions } from './sink-components.ts';
import type { UpComponent } from './up-component.ts';

export type { UpComponent, UpContext } from './up-component.ts';

/** Flags `up` accepts on behalf of its components. */
export const UP_OPTIONS: Record<string, OptionSpec> = {
  'no-collector': {
    type: 'boolean',
    doc: 'Do not run the node collector (eBPF capture into the raw topic); it runs by default and needs root.',
  },
  demo: {
    type: 'boolean',
    doc: 'Also run the demo topology (meshpipe demo): three services under steady load.',
  },
  'demo-rate': { type: 'string', value: '<n>', doc: 'Requests per second of the demo load (default 20).' },
  kubernetes: {
    type: 'boolean',
    doc: 'With --demo: run a local kube-apiserver (built by scripts/setup), register the demo pods in it, and let the collector name everything from it (namespaces, Deployments, pods), as in a cluster.',
  },
  ...sinkUpOptions(),
};

export const UP_COMPONENTS: UpComponent[] = [
  {
    // The node collector: eBPF capture into the raw topic. It reports its status every second.
    name: 'collector',
    enabled: ({ values }) => values['no-collector'] !== true,
    args: () => ['collect'],
    // A small V8 young generation: a third of the collector's peak RSS for a few % CPU (bench/collector).
    env: () => ({ NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --max-semi-space-size=2`.trim() }),
    stallMs: 30_000,
  },
  {
    name: 'demo',
    enabled: ({ values }) => values.demo === true,
    args: ({ values }) => [
      'demo',
      ...(typeof values['demo-rate'] === 'string' ? ['--rate', values['demo-rate']] : []),
      ...(values.kubernetes === true ? ['--kubernetes'] : []),
    ],
    // It reports every second; silence for this long means it hangs.
    stallMs: 30_000,
  },
  // One per enabled built-in processor (processors/runtime/registry.ts).
  ...(await processorComponents()),
  // One per built-in sink that its section asks for (sinks/registry.ts).
  ...sinkComponents(),
];
