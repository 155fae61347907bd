import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { resolveCollectorConfig } from '../../collectors/config.ts';
import { loadConfig } from '../../lib/config/load.ts';
import { ERRORS } from '../../lib/errors.ts';
import { runCli } from '../helpers/cli.ts';

function fileWith(content: unknown): string {
  const dir = mkdtempSync(join(tmpdir(), 'meshpipe-collector-config-'));
  const file = join(dir, 'meshpipe.json');
  writeFileSync(file, JSON.stringify(content));
  return file;
}

describe('resolveCollectorConfig: collector.* checked beside the collector', () => {
  it('applies the defaults and the MESHPIPE_COLLECTOR_* variables', () => {
    const { config } = loadConfig({ env: {}, cwd: tmpdir() });
    const collector = resolveCollectorConfig(config, { MESHPIPE_COLLECTOR_PORTS: '8080,9090' });
    assert.deepEqual(collector.ports, [8080, 9090]);
    assert.equal(collector.metricsHost, '127.0.0.1');
    assert.equal(collector.tls.enabled, true);
  });

  it('rejects an unknown key naming it in full, with the closest known key', () => {
    const file = fileWith({ collector: { redact: { header: ['x-a'] } } });
    assert.throws(
      () => resolveCollectorConfig(loadConfig({ file, env: {} }).config, {}),
      (err: Error & { code: string }) => {
        assert.equal(err.code, ERRORS.CONFIG_UNKNOWN_KEY.code);
        assert.match(err.message, /collector\.redact\.header\b/);
        assert.match(err.message, /headers/);
        return true;
      },
    );
  });

  it('a bad collector key stops any command with exit 78, as before the section moved', async () => {
    const file = fileWith({ collector: { capBytes: 'lots' } });
    const r = await runCli(['topics', '--json'], { env: { MESHPIPE_CONFIG: file } });
    assert.equal(r.code, 78, r.stderr);
    assert.match(r.stdout + r.stderr, /collector\.capBytes/);
    assert.match(r.stdout + r.stderr, /MESHPIPE_ERR_CONFIG_INVALID_VALUE/);
  });
});

describe('collector.redact: names and patterns', () => {
  it('takes globs for headers, parameters and path segments', () => {
    const file = fileWith({
      collector: {
        redact: { headers: ['x-*-token'], queryParams: ['x-amz-*'], pathSegments: ['sk_live_*'] },
      },
    });
    const collector = resolveCollectorConfig(loadConfig({ file, env: {} }).config, {});
    assert.deepEqual(collector.redact.headers, ['x-*-token']);
    assert.deepEqual(collector.redact.pathSegments, ['sk_live_*']);
  });

  const refused: Array<[key: string, value: string, why: RegExp]> = [
    ['headers', '^x-.*-token$', /collector\.redact\.headers\[0\].*looks like a regular expression/],
    ['headers', 'X Custom', /collector\.redact\.headers\[0\].*not a header name or pattern/],
    ['headers', 'content-*', /would redact content-length, content-type/],
    ['queryParams', 'sig$', /collector\.redact\.queryParams\[0\].*regular expression/],
    ['pathSegments', 'a/b', /collector\.redact\.pathSegments\[0\].*one segment/],
    ['pathSegments', '*', /every path segment/],
  ];
  for (const [key, value, why] of refused) {
    it(`refuses ${key} ${JSON.stringify(value)}, naming the key and why (never a silent literal)`, () => {
      const file = fileWith({ collector: { redact: { [key]: [value] } } });
      assert.throws(
        () => resolveCollectorConfig(loadConfig({ file, env: {} }).config, {}),
        (err: Error & { code: string }) => {
          assert.equal(err.code, ERRORS.CONFIG_INVALID_VALUE.code);
          assert.match(err.message, why);
          return true;
        },
      );
    });
  }
});
