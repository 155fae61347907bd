/**
 * The command table. Commands load lazily so `meshpipe --help` and small commands start fast.
 * Adding a command: create cli/commands/<name>.ts exporting `command`, and list it here.
 */
import type { CommandDefinition } from '../command.ts';

export interface CommandEntry {
  summary: string;
  /** The definition; `args` (what follows the command's name) lets `sink <name|path>` take its sink's flags. */
  load: (args?: readonly string[]) => Promise<CommandDefinition>;
}

export const COMMANDS: Record<string, CommandEntry> = {
  up: {
    summary: 'Run the whole pipeline on this machine (local Kafka and Redis unless configured).',
    load: async () => (await import('./up.ts')).command,
  },
  doctor: {
    summary: 'Check this machine: kernel, BTF, tracefs, BPF permission, Java, Kafka, Redis.',
    load: async () => (await import('./doctor.ts')).command,
  },
  topics: {
    summary: 'Create and verify the meshpipe topics.',
    load: async () => (await import('./topics.ts')).command,
  },
  tail: {
    summary: 'Decode and print records of any meshpipe topic.',
    load: async () => (await import('./tail.ts')).command,
  },
  config: {
    summary: 'Show every configuration key, or the effective configuration.',
    load: async () => (await import('./config.ts')).command,
  },
  demo: {
    summary: 'Run a three-service demo topology in network namespaces, with steady load.',
    load: async () => (await import('./demo.ts')).command,
  },
  'demo fault': {
    summary: "Change a running demo's faults (latency, errors) without restarting it.",
    load: async () => (await import('./demo.ts')).fault,
  },
  process: {
    summary: 'Run processors on Kafka, exactly once: built-in ones by name, yours by path.',
    load: async () => (await import('./process.ts')).command,
  },
  replay: {
    summary: 'Play a recording back: through processors in memory, into Kafka, or to the terminal.',
    load: async () => (await import('./replay.ts')).command,
  },
  'processor new': {
    summary: 'Scaffold a processor that works as generated, with a unit test that passes.',
    load: async () => (await import('./processor-new.ts')).command,
  },
  'processor list': {
    summary: 'The built-in processors: what each reads and writes, and whether `up` runs it.',
    load: async () => (await import('./processor-list.ts')).command,
  },
  collect: {
    summary: 'Run the node collector: eBPF capture of HTTP traffic, redacted raw events to Kafka.',
    load: async () => (await import('./collect.ts')).command,
  },
  observe: {
    summary: 'Watch the HTTP exchanges on this node live (no Kafka), redacted, with filters.',
    load: async () => (await import('./observe.ts')).command,
  },
  record: {
    summary: 'Save the raw events this node captures to a recording file (for meshpipe replay).',
    load: async () => (await import('./record.ts')).command,
  },
  sink: {
    summary:
      'Run a sink on Kafka, at least once: built-in ones (otlp, prometheus, alerts) by name, yours by path.',
    load: async (args) => (await import('./sink.ts')).loadSinkCommand(args),
  },
  'sink new': {
    summary: 'Scaffold a sink that works as generated: it writes what it receives to a JSON-lines file.',
    load: async () => (await import('./sink-new.ts')).command,
  },
  'alerts test': {
    summary: "Send a test alert through a receiver's real queue and report what happened.",
    load: async () => (await import('./alerts.ts')).test,
  },
  'alerts status': {
    summary: 'Alert queues per receiver, recent failures and dead letters.',
    load: async () => (await import('./alerts.ts')).status,
  },
  'stack start': {
    summary: 'Start the local Kafka and Redis (reused if already up).',
    load: async () => (await import('./stack.ts')).start,
  },
  'stack stop': {
    summary: 'Stop the local Kafka and Redis.',
    load: async () => (await import('./stack.ts')).stop,
  },
  'stack status': {
    summary: 'Show whether the local Kafka and Redis run, and where.',
    load: async () => (await import('./stack.ts')).status,
  },
};
