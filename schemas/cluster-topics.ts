/**
 * The topic contract on a cluster: creates missing topics from their definitions (schemas/topics.ts)
 * and verifies existing ones against them.
 */

import type { MeshpipeConfig } from '../lib/config/meshpipe-config.ts';
import type { KafkaAdmin } from '../lib/kafka/admin.ts';
import { TOPICS, type TopicDefinition, topicName } from './topics.ts';

export interface TopicStatus {
  name: string;
  definition: TopicDefinition;
  state: 'created' | 'ok' | 'mismatch';
  partitions: number;
  problems: string[];
}

export function allTopicDefinitions(extra: readonly TopicDefinition[] = []): TopicDefinition[] {
  return [...Object.values(TOPICS), ...extra];
}

export function partitionsFor(definition: TopicDefinition, config: MeshpipeConfig): number {
  return config.kafka.partitions[definition.suffix] ?? definition.partitions;
}

/**
 * Creates missing topics (every partition with a leader before this returns) and verifies existing
 * ones: partition count at least the definition's, cleanup policy equal. `fix` raises partition counts
 * that are short.
 */
export async function ensureTopics(
  admin: KafkaAdmin,
  definitions: readonly TopicDefinition[],
  options: { prefix: string; replicationFactor: number; partitions?: Record<string, number>; fix?: boolean },
): Promise<TopicStatus[]> {
  const wanted = definitions.map((definition) => ({
    definition,
    name: topicName(definition, options.prefix),
    partitions: options.partitions?.[definition.suffix] ?? definition.partitions,
  }));
  const existing = new Set(await admin.listTopics());
  const missing = wanted.filter((w) => !existing.has(w.name));
  // Another instance may create some of them meanwhile: createTopics leaves those as they are, and
  // the verification below decides.
  await admin.createTopics(
    missing.map((w) => ({
      topic: w.name,
      numPartitions: w.partitions,
      replicationFactor: options.replicationFactor,
      config: {
        'cleanup.policy': w.definition.cleanupPolicy,
        'retention.ms': String(w.definition.retentionMs),
      },
    })),
  );

  const names = wanted.map((w) => w.name);
  const counts = await admin.partitionCountsOfExisting(names);
  const configs = await admin.describeConfigs(names, ['cleanup.policy']);

  const statuses: TopicStatus[] = [];
  for (const w of wanted) {
    const partitions = counts.get(w.name) ?? 0;
    const problems: string[] = [];
    if (partitions < w.partitions) {
      if (options.fix === true && partitions > 0) {
        await admin.createPartitions(w.name, w.partitions);
      } else {
        problems.push(`has ${partitions} partitions, the definition asks for ${w.partitions}`);
      }
    }
    const policy = configs.get(w.name)?.get('cleanup.policy');
    if (policy !== undefined && policy !== w.definition.cleanupPolicy) {
      problems.push(`cleanup.policy is ${policy}, the definition asks for ${w.definition.cleanupPolicy}`);
    }
    statuses.push({
      name: w.name,
      definition: w.definition,
      state: problems.length > 0 ? 'mismatch' : missing.includes(w) ? 'created' : 'ok',
      partitions: Math.max(partitions, options.fix === true ? w.partitions : partitions),
      problems,
    });
  }
  return statuses;
}
