/**
 * A stable name for this process among the processes of this host that run the same thing: the id a
 * processor instance joins its consumer group with as a static member (`group.instance.id`, KIP-345).
 * With it, an instance killed and started again gets its partitions back at once, instead of waiting
 * for the group to notice the old member is gone (the session timeout): the broker sees the same
 * member come back.
 *
 * The id must be stable across a restart, yet different for two instances running side by side (two
 * members with one id fence each other out of the group). So it is `<host>-<slot>`, where the slot is
 * the lowest number no live process of this user on this host holds for the same group: slot N is held
 * while `<dir>/<group>.<N>.pid` names a live process (pid and start time, so a reused pid does not
 * count). A restarted instance finds its predecessor's slot free (the process is gone) and takes it;
 * `--instances 3` gets slots 0, 1 and 2. In Kubernetes each pod has its own host name and its own
 * /tmp: every instance is `<pod name>-0`. `MESHPIPE_INSTANCE_ID` overrides the whole id.
 *
 * Two processes starting at the very same moment on a slot left by a killed one can both take it; the
 * broker then fences one of them out (MESHPIPE_ERR_KAFKA_GROUP_INSTANCE_FENCED), and its restart takes
 * the next slot.
 */
import { mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';

export interface InstanceSlot {
  /** The static member id: `MESHPIPE_INSTANCE_ID`, or `<host>-<slot>`. */
  id: string;
  slot: number;
  /** Frees the slot (also done when the process exits). */
  release(): void;
}

/** Kafka accepts letters, digits, '.', '_' and '-' in a group instance id, up to 249 of them. */
function sanitize(id: string): string {
  return id.replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 249);
}

/** The start time of a process (clock ticks since boot), to tell it from a later one with its pid. */
function startTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

function holderAlive(content: string): boolean {
  const [pid, started] = content.trim().split(' ');
  const n = Number(pid);
  if (!Number.isInteger(n) || n <= 0) return false;
  if (n === process.pid) return true;
  const now = startTime(n);
  return now !== undefined && now === started;
}

export function claimInstanceSlot(
  group: string,
  options: { dir?: string; host?: string } = {},
): InstanceSlot {
  const fromEnv = process.env.MESHPIPE_INSTANCE_ID;
  if (fromEnv !== undefined && fromEnv !== '') return { id: sanitize(fromEnv), slot: 0, release: () => {} };
  const dir = options.dir ?? join(tmpdir(), `meshpipe-${userInfo().uid}`, 'instances');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const mine = `${process.pid} ${startTime(process.pid) ?? ''}\n`;
  const name = sanitize(group);
  for (let slot = 0; ; slot++) {
    const path = join(dir, `${name}.${slot}.pid`);
    try {
      writeFileSync(path, mine, { flag: 'wx', mode: 0o600 });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      let content = '';
      try {
        content = readFileSync(path, 'utf8');
      } catch {
        // removed meanwhile: try the slot again
        slot--;
        continue;
      }
      if (holderAlive(content)) continue;
      // Left by a process that is gone: take it over.
      writeFileSync(path, mine, { mode: 0o600 });
    }
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      process.off('exit', release);
      try {
        if (readFileSync(path, 'utf8') === mine) unlinkSync(path);
      } catch {
        // already gone
      }
    };
    process.on('exit', release);
    return { id: sanitize(`${options.host ?? hostname()}-${slot}`), slot, release };
  }
}
