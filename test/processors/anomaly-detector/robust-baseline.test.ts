import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  baselineOf,
  lowerThresholds,
  MAD_TO_SIGMA,
  median,
  remember,
  upperThresholds,
} from '../../../processors/anomaly-detector/robust-baseline.ts';

test('median and MAD ignore outliers that would wreck a mean and standard deviation', () => {
  const healthy = [10, 11, 9, 10, 12, 10, 9, 11, 10, 10];
  const withSpikes = [...healthy, 500, 800, 650]; // three incident windows among thirteen
  const b = baselineOf(withSpikes);
  assert.equal(b.median, 10);
  assert.equal(b.sigma, MAD_TO_SIGMA * 1);
  assert.equal(b.n, 13);
  assert.equal(median([3, 1, 2, 4]), 2.5);
});

test('upper thresholds take the largest floor and leave a dead band below the fire line', () => {
  const b = { median: 10, sigma: 1, n: 30 };
  assert.deepEqual(upperThresholds(b, 4, [], 0.5), { fire: 14, resolve: 12 });
  assert.deepEqual(upperThresholds(b, 4, [15, 11], 0.5), { fire: 15, resolve: 12.5 });
  // A MAD of 0 (bucketed values, no errors): the floors alone decide.
  assert.deepEqual(upperThresholds({ median: 0, sigma: 0, n: 30 }, 4, [0.05], 0.5), {
    fire: 0.05,
    resolve: 0.025,
  });
});

test('lower thresholds take the smallest ceiling and never go below 0', () => {
  const b = { median: 40, sigma: 2, n: 30 };
  assert.deepEqual(lowerThresholds(b, 4, [20], 0.5), { fire: 20, resolve: 30 });
  assert.deepEqual(lowerThresholds({ median: 3, sigma: 2, n: 30 }, 4, [1.5], 0.5), { fire: 0, resolve: 1.5 });
});

test('remember keeps the newest values', () => {
  const h = [1, 2, 3];
  remember(h, 4, 3);
  assert.deepEqual(h, [2, 3, 4]);
});
