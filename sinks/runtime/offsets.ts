/**
 * Which input partitions this sink instance owns, and which offsets it may commit.
 *
 * Kafka's group coordinator checks the generation of an offset commit, not who owns the partition:
 * after a rebalance, a commit for a partition that moved to another member is accepted and silently
 * overwrites that member's progress. So the host decides itself: a batch's offsets are committed only
 * for partitions owned at commit time, and never below what was already committed (a batch that was
 * in flight across a rebalance can finish after newer batches of the same partition).
 */

export interface OffsetCommit {
  partition: number;
  /** The next offset to read (one past the last record handled), as Kafka commits it. */
  offset: string;
}

export class PartitionOwnership {
  #owned = new Set<number>();
  #generation = 0;

  /** Increases with every assignment: entries buffered under an older generation are stale. */
  get generation(): number {
    return this.#generation;
  }

  get partitions(): number[] {
    return [...this.#owned].sort((a, b) => a - b);
  }

  owns(partition: number): boolean {
    return this.#owned.has(partition);
  }

  /** A new assignment (the consumer's onAssigned); returns the partitions that were revoked. */
  assign(partitions: readonly number[]): number[] {
    const next = new Set(partitions);
    const revoked = [...this.#owned].filter((p) => !next.has(p));
    this.#owned = next;
    this.#generation++;
    return revoked;
  }

  /** The member left the group (stop, crash): nothing may be committed any more. */
  revokeAll(): void {
    this.#owned.clear();
    this.#generation++;
  }
}

/** Committed positions per partition, to keep commits monotonic and to compute lag. */
export class OffsetLedger {
  readonly #committed = new Map<number, bigint>();

  committed(partition: number): bigint | undefined {
    return this.#committed.get(partition);
  }

  /**
   * The commits that acknowledge `handled` records (partition, offset): one past the highest offset per
   * partition, for owned partitions only, and only where that moves the committed position forward. A
   * value of a batch record that is not its record's last (`last: false`) acknowledges only the records
   * before its own: the rest of its record is still to be delivered, so the record is read again after
   * a restart (its delivered values again too, within the documented duplicate window).
   */
  plan(
    handled: Iterable<{ partition: number; offset: string; last?: boolean }>,
    ownership: PartitionOwnership,
  ): { commits: OffsetCommit[]; notOwned: number[] } {
    const next = new Map<number, bigint>();
    for (const { partition, offset, last } of handled) {
      const after = BigInt(offset) + (last === false ? 0n : 1n);
      if (after > (next.get(partition) ?? -1n)) next.set(partition, after);
    }
    const commits: OffsetCommit[] = [];
    const notOwned: number[] = [];
    for (const [partition, offset] of next) {
      if (!ownership.owns(partition)) notOwned.push(partition);
      else if (offset > (this.#committed.get(partition) ?? -1n))
        commits.push({ partition, offset: offset.toString() });
    }
    return { commits, notOwned };
  }

  record(commits: readonly OffsetCommit[]): void {
    for (const c of commits) this.#committed.set(c.partition, BigInt(c.offset));
  }

  /** Forgets partitions this member no longer owns: their progress is another member's now. */
  forget(partitions: Iterable<number>): void {
    for (const p of partitions) this.#committed.delete(p);
  }
}
