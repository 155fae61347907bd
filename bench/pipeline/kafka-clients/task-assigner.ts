/**
 * (Kept here for the client comparison, bench/pipeline/kafka-clients: the assigner the kafkajs-based
 * processor host used before the host moved to lib/kafka/ and the range assignor with static membership.)
 *
 * How a processor's consumer group shares partitions: by task, sticky.
 *
 * A task is a partition number. It owns partition N of every input topic (processors with several
 * inputs join records by key, which requires the inputs to be co-partitioned), the state of partition N
 * and changelog partition N. kafkajs's round-robin assigner hands out topic-partitions one by one, which
 * could split partition 3 of two inputs across two instances; this assigner never does.
 *
 * Sticky: every member reports the tasks it owns in its join metadata, and the leader leaves each task
 * where it is unless the balance requires moving it. Moving a task costs a restore from the changelog,
 * so adding an instance moves only the tasks the new instance takes, and a restart of one instance
 * leaves the others' tasks alone. (The same idea as Kafka Streams' sticky task assignor, without
 * standby replicas.)
 */
import { AssignerProtocol, type PartitionAssigner } from 'kafkajs';

const NAME = 'MeshpipeStickyTaskAssigner';
const VERSION = 1;

export interface Member {
  id: string;
  /** Tasks it owned before this rebalance. */
  owned: readonly number[];
}

/**
 * Balanced and sticky: member quotas differ by at most one; a member keeps what it owned up to its
 * quota; the rest go to the members with the fewest tasks. Deterministic for the same input.
 */
export function assignTasks(tasks: readonly number[], members: readonly Member[]): Map<string, number[]> {
  const result = new Map<string, number[]>(members.map((m) => [m.id, []]));
  if (members.length === 0) return result;
  const sortedTasks = [...new Set(tasks)].sort((a, b) => a - b);
  const base = Math.floor(sortedTasks.length / members.length);
  let extra = sortedTasks.length % members.length;
  // Members that owned more keep the spare slots, so fewer tasks move.
  const byOwned = [...members].sort((a, b) => b.owned.length - a.owned.length || a.id.localeCompare(b.id));
  const quota = new Map<string, number>();
  for (const m of byOwned) quota.set(m.id, base + (extra-- > 0 ? 1 : 0));

  const available = new Set(sortedTasks);
  const byId = [...members].sort((a, b) => a.id.localeCompare(b.id));
  for (const m of byId) {
    const mine = result.get(m.id)!;
    for (const task of [...m.owned].sort((a, b) => a - b)) {
      if (mine.length >= quota.get(m.id)! || !available.has(task)) continue;
      mine.push(task);
      available.delete(task);
    }
  }
  for (const task of available) {
    let target: Member | undefined;
    for (const m of byId) {
      const count = result.get(m.id)!.length;
      if (count >= quota.get(m.id)!) continue;
      if (target === undefined || count < result.get(target.id)!.length) target = m;
    }
    result.get(target!.id)!.push(task);
  }
  for (const list of result.values()) list.sort((a, b) => a - b);
  return result;
}

function decodeOwned(userData: Buffer | undefined): number[] {
  if (userData === undefined || userData.length === 0) return [];
  try {
    const value = JSON.parse(userData.toString('utf8')) as unknown;
    return Array.isArray(value) ? value.filter((x): x is number => Number.isInteger(x)) : [];
  } catch {
    return [];
  }
}

/** The kafkajs assigner; `owned` says which tasks this instance holds when it (re)joins. */
export function taskAssigner(owned: () => readonly number[]): PartitionAssigner {
  return ({ cluster }) => ({
    name: NAME,
    version: VERSION,
    protocol({ topics }) {
      return {
        name: NAME,
        metadata: AssignerProtocol.MemberMetadata.encode({
          version: VERSION,
          topics,
          userData: Buffer.from(JSON.stringify(owned())),
        }),
      };
    },
    async assign({ members, topics }) {
      const partitionsOf = new Map(
        topics.map((topic) => [topic, cluster.findTopicPartitionMetadata(topic).map((p) => p.partitionId)]),
      );
      const tasks = [...new Set([...partitionsOf.values()].flat())];
      const assigned = assignTasks(
        tasks,
        members.map((m) => ({
          id: m.memberId,
          owned: decodeOwned(AssignerProtocol.MemberMetadata.decode(m.memberMetadata)?.userData),
        })),
      );
      return members.map((m) => {
        const mine = assigned.get(m.memberId) ?? [];
        const assignment: Record<string, number[]> = {};
        for (const [topic, partitions] of partitionsOf) {
          const here = mine.filter((task) => partitions.includes(task));
          if (here.length > 0) assignment[topic] = here;
        }
        return {
          memberId: m.memberId,
          memberAssignment: AssignerProtocol.MemberAssignment.encode({
            version: VERSION,
            assignment,
            userData: Buffer.alloc(0),
          }),
        };
      });
    },
  });
}
