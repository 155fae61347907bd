import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { TlsLibraryRecord } from '../../../collectors/capture/loader/record-decoder.ts';
import { TlsLibraries } from '../../../collectors/capture/tls-libraries.ts';
import { testLogger } from '../../../testkit/kafka.ts';

const LIBSSL = '/usr/lib/x86_64-linux-gnu/libssl.so.3';
const record = (state: TlsLibraryRecord['state'], ino: number, path = LIBSSL): TlsLibraryRecord => ({
  kind: 'tls_library',
  state,
  tgid: 100 + ino,
  functions: ['SSL_read', 'SSL_write'],
  error: state === 'failed' ? 'EINVAL' : null,
  dev: 0xfe00000,
  ino,
  path,
});

describe('TlsLibraries', () => {
  it('keeps the attached files, one per inode, counted by path', () => {
    const libs = new TlsLibraries(testLogger);
    libs.apply(record('attached', 1));
    libs.apply(record('attached', 2)); // a container's own libssl at the same path
    libs.apply(record('attached', 3, '/usr/bin/node'));
    libs.apply(record('failed', 4, '/opt/app/libssl.so.3'));
    libs.apply(record('unsupported', 5, '/usr/local/bin/envoy'));
    assert.deepEqual(
      libs.countByPath(),
      new Map([
        [LIBSSL, 2],
        ['/usr/bin/node', 1],
      ]),
    );
    libs.apply(record('detached', 2));
    assert.equal(libs.countByPath().get(LIBSSL), 1);
    assert.deepEqual(
      libs.list().map((l) => l.pid),
      [101, 103],
    );
  });

  it('starts from nothing with a new loader run', () => {
    const libs = new TlsLibraries(testLogger);
    libs.apply(record('attached', 1));
    libs.reset();
    assert.deepEqual(libs.list(), []);
  });
});
