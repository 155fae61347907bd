import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { assignTasks } from '../../../processors/runtime/task-assigner.ts';

const SIX = [0, 1, 2, 3, 4, 5];
const asObject = (m: Map<string, number[]>) => Object.fromEntries(m);

describe('sticky task assignment', () => {
  const cases: Array<{
    name: string;
    members: Array<{ id: string; owned: number[] }>;
    expected: Record<string, number[]>;
  }> = [
    { name: 'one member takes every task', members: [{ id: 'a', owned: [] }], expected: { a: SIX } },
    {
      name: 'a newcomer takes half, the owner keeps the rest (fewest moves)',
      members: [
        { id: 'a', owned: SIX },
        { id: 'b', owned: [] },
      ],
      expected: { a: [0, 1, 2], b: [3, 4, 5] },
    },
    {
      name: 'a member that leaves hands its tasks over; the others keep theirs',
      members: [
        { id: 'a', owned: [0, 3] },
        { id: 'c', owned: [2, 5] },
      ],
      expected: { a: [0, 1, 3], c: [2, 4, 5] },
    },
    {
      name: 'tasks are spread evenly among new members',
      members: [
        { id: 'x', owned: [] },
        { id: 'y', owned: [] },
        { id: 'z', owned: [] },
        { id: 'w', owned: [] },
      ],
      expected: { w: [0, 4], x: [1, 5], y: [2], z: [3] },
    },
    {
      name: 'a task claimed by two members (a stale report) goes to one',
      members: [
        { id: 'a', owned: [0, 1, 2] },
        { id: 'b', owned: [2, 3] },
      ],
      expected: { a: [0, 1, 2], b: [3, 4, 5] },
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const result = assignTasks(SIX, c.members);
      assert.deepEqual(asObject(result), c.expected);
      assert.deepEqual([...result.values()].flat().sort(), SIX, 'every task exactly once');
    });
  }
});
