import { connectAdmin, createKafka, kafkaOptionsFrom } from '../../lib/kafka.ts';
import { allTopicDefinitions, ensureTopics } from '../../schemas/cluster-topics.ts';
import { type CommandDefinition, KAFKA_OPTIONS } from '../command.ts';
import { resolveEndpoints } from '../endpoints.ts';
import { useSchemaRegistry } from '../schema-registry.ts';

export const command: CommandDefinition = {
  name: 'topics',
  summary: 'Create the meshpipe topics that are missing and verify the others against their definitions.',
  usage: 'topics [--fix] [--brokers host:port] [--json]',
  description:
    "Topic names are <kafka.topicPrefix>.<suffix>; partitions, retention and cleanup policy come from schemas/topics.ts (partitions can be overridden per topic with kafka.partitions). With kafka.schemaRegistry.url set, every topic's schema is registered under <topic>-value (new subjects get compatibility BACKWARD), also when kafka.schemaRegistry.autoRegister is off. Exits 1 when a topic differs from its definition.",
  options: {
    ...KAFKA_OPTIONS,
    fix: { type: 'boolean', doc: 'Raise partition counts that are lower than the definition.' },
  },
  json: true,
  examples: ['meshpipe topics', 'meshpipe topics --brokers kafka-0.kafka:9092 --json'],
  async run(ctx) {
    const { config } = ctx.config();
    const endpoints = await resolveEndpoints(config, { logger: ctx.logger, start: false });
    const kafka = createKafka(kafkaOptionsFrom(config, ctx.logger, endpoints.brokers));
    const admin = await connectAdmin(kafka, endpoints.brokers);
    try {
      ctx.progress.update('creating and verifying topics');
      const statuses = await ensureTopics(admin, allTopicDefinitions(), {
        prefix: config.kafka.topicPrefix,
        replicationFactor: config.kafka.replicationFactor,
        partitions: config.kafka.partitions,
        fix: ctx.values.fix === true,
      });
      ctx.progress.update('registering the schemas');
      const registry = await useSchemaRegistry(config, ctx.logger, { register: true });
      ctx.progress.done();
      const bad = statuses.filter((s) => s.state === 'mismatch');
      if (ctx.json) {
        ctx.printJson({
          brokers: endpoints.brokers,
          ok: bad.length === 0,
          topics: statuses.map((s) => ({
            name: s.name,
            state: s.state,
            partitions: s.partitions,
            schema: s.definition.schema,
            key: s.definition.key,
            retentionMs: s.definition.retentionMs,
            cleanupPolicy: s.definition.cleanupPolicy,
            problems: s.problems,
          })),
          schemaRegistry: registry === undefined ? null : { url: registry.url, subjects: registry.subjects },
        });
      } else {
        const width = Math.max(...statuses.map((s) => s.name.length)) + 2;
        for (const s of statuses) {
          ctx.out(
            `${s.name.padEnd(width)}${s.state.padEnd(10)}${String(s.partitions).padStart(3)} partitions  ${s.definition.schema}${s.problems.length > 0 ? `  ! ${s.problems.join('; ')}` : ''}`,
          );
        }
        if (registry !== undefined) {
          ctx.out(`schema registry ${registry.url}:`);
          for (const r of registry.subjects)
            ctx.out(`  ${r.subject.padEnd(width + 4)}id ${r.id}  ${r.schema}`);
        }
      }
      return bad.length === 0 ? 0 : 1;
    } finally {
      await admin.disconnect();
    }
  },
};
