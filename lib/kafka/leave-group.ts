/**
 * Takes a static member out of its group (KIP-345's removal: LeaveGroup v3 naming the member by its
 * group instance id). A static member (`group.instance.id`) does not leave its group when it closes —
 * that is what lets a restarted instance take its partitions back at once — so an instance stopping
 * for good (SIGTERM: a scale-down, a rolling update to pods of other names, Ctrl-C) would hold its
 * partitions until its session timed out. The processor host calls this after a graceful stop, so its
 * partitions move to the other instances at once; a crashed or killed instance never gets here, and
 * its restart finds its partitions waiting for it.
 *
 * librdkafka has no such call and the binding no admin request for it, so FindCoordinator v1 and
 * LeaveGroup v3 (Kafka 2.4 to 4.x) go over a connection of our own (broker-connection.ts).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { brokerError, Reader, Writer, withBroker } from './broker-connection.ts';
import type { KafkaConnection } from './connection.ts';

const API_FIND_COORDINATOR = 10;
const API_LEAVE_GROUP = 13;
/** The coordinator is moving or loading: ask again. */
const COORDINATOR_RETRIABLE = new Set([
  14 /* COORDINATOR_LOAD_IN_PROGRESS */, 15 /* NOT_AVAILABLE */, 16 /* NOT_COORDINATOR */,
]);
const UNKNOWN_MEMBER_ID = 25;

async function findCoordinator(client: KafkaConnection, groupId: string): Promise<string> {
  for (let attempt = 0; ; attempt++) {
    const answer = await withBroker(client, 'FindCoordinator', async (connection) => {
      const r = new Reader(
        await connection.request(API_FIND_COORDINATOR, 1, new Writer().string(groupId).int8(0).build()),
      );
      r.int32(); // throttle_time_ms
      const errorCode = r.int16();
      const message = r.nullableString();
      r.int32(); // node_id
      const host = r.string();
      const port = r.int32();
      return { errorCode, message, address: host.includes(':') ? `[${host}]:${port}` : `${host}:${port}` };
    });
    if (answer.errorCode === 0) return answer.address;
    if (!COORDINATOR_RETRIABLE.has(answer.errorCode) || attempt >= 5)
      throw brokerError(answer.errorCode, `finding the coordinator of group ${groupId}`, answer.message);
    await sleep(100 * 2 ** attempt);
  }
}

/** Removes the static member `groupInstanceId` from `groupId`; a member already gone is fine. */
export async function leaveGroup(
  client: KafkaConnection,
  groupId: string,
  groupInstanceId: string,
): Promise<void> {
  const coordinator = await findCoordinator(client, groupId);
  const request = new Writer()
    .string(groupId)
    .int32(1)
    .string('') // member id unknown: the coordinator finds the member by its instance id
    .string(groupInstanceId)
    .build();
  await withBroker(
    client,
    'LeaveGroup',
    async (connection) => {
      const r = new Reader(await connection.request(API_LEAVE_GROUP, 3, request));
      r.int32(); // throttle_time_ms
      const errorCode = r.int16();
      if (errorCode !== 0) throw brokerError(errorCode, `leaving group ${groupId}`);
      for (const member of r.array(() => ({
        id: r.string(),
        instance: r.nullableString(),
        error: r.int16(),
      }))) {
        if (member.error !== 0 && member.error !== UNKNOWN_MEMBER_ID)
          throw brokerError(member.error, `removing ${member.instance ?? member.id} from group ${groupId}`);
      }
    },
    [coordinator],
  );
}
