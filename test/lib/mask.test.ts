import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MASK, maskUrl } from '../../lib/mask.ts';

describe('maskUrl: how meshpipe prints a URL', () => {
  const cases: Array<[string, string]> = [
    ['redis://default:s3cret@redis:6379/0', `redis://default:${MASK}@redis:6379/0`],
    ['redis://:s3cret@redis:6379', `redis://:${MASK}@redis:6379`],
    ['rediss://redis.example.com:6380', 'rediss://redis.example.com:6380'],
    [
      'https://hooks.slack.com/services/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',
      'https://hooks.slack.com/services/…',
    ],
    ['https://discord.com/api/webhooks/1234/AbCdEf', 'https://discord.com/api/…'],
    [
      'https://example.com/hook?token=abc&token=def&x=1#frag',
      `https://example.com/hook?token=${MASK}&x=${MASK}`,
    ],
    ['http://alertmanager:9093/api/v2/alerts', 'http://alertmanager:9093/api/…'],
    ['https://tempo:4317', 'https://tempo:4317'],
    ['https://[bad', `https://${MASK}`],
    // Not URLs: left alone.
    ['k:9092', 'k:9092'],
    ['meshpipe', 'meshpipe'],
    ['', ''],
  ];
  for (const [url, shown] of cases) it(`${url} → ${shown}`, () => assert.equal(maskUrl(url), shown));
});
