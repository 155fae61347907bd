/**
 * The Schema Registry client's authentication and TLS, against real servers: the registry (Apicurio,
 * test/helpers/schema-registry.ts) behind nginx, the way registries are commonly put behind a TLS- and
 * auth-terminating proxy — one nginx server with TLS, a required client certificate and HTTP basic
 * authentication, another with a bearer token. The settings are the ones users write under
 * kafka.schemaRegistry; a refusal names what to fix, never a credential.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ephemeralPort } from '../../cli/stack/ports.ts';
import { schemaRegistrySpec } from '../../lib/config/meshpipe-config.ts';
import { ERRORS } from '../../lib/errors.ts';
import { loadSchemaRegistry } from '../../schemas/registry.ts';
import {
  connectSchemaRegistry,
  type SchemaRegistrySettings,
} from '../../schemas/schema-registry-connection.ts';
import { makePki, type Pki } from '../helpers/pki.ts';
import { testSchemaRegistryUrl } from '../helpers/schema-registry.ts';
import { waitFor } from '../helpers/wait.ts';

const USER = 'meshpipe';
const PASSWORD = `pw-${randomBytes(6).toString('hex')}`;
const TOKEN = `tk-${randomBytes(12).toString('hex')}`;

interface Proxy {
  basicUrl: string;
  bearerUrl: string;
  stop(): Promise<void>;
}

/** nginx (the Debian package) in front of the registry: TLS + client certificate + basic auth, and bearer. */
async function startProxy(dir: string, pki: Pki, upstream: URL): Promise<Proxy> {
  const [basicPort, bearerPort] = [await ephemeralPort(), await ephemeralPort()];
  const hash = execFileSync('openssl', ['passwd', '-apr1', PASSWORD], { encoding: 'utf8' }).trim();
  // nginx's workers drop root: they must be able to read the password file.
  chmodSync(dir, 0o755);
  writeFileSync(join(dir, 'htpasswd'), `${USER}:${hash}\n`, { mode: 0o644 });
  const conf = join(dir, 'nginx.conf');
  const proxy = `proxy_pass http://${upstream.host}; proxy_set_header Authorization "";`;
  writeFileSync(
    conf,
    `daemon off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  server {
    listen 127.0.0.1:${basicPort} ssl;
    ssl_certificate ${pki.serverCert};
    ssl_certificate_key ${pki.serverKey};
    ssl_client_certificate ${pki.ca};
    ssl_verify_client on;
    auth_basic "registry";
    auth_basic_user_file ${dir}/htpasswd;
    location / { ${proxy} }
  }
  server {
    listen 127.0.0.1:${bearerPort};
    location / {
      if ($http_authorization != "Bearer ${TOKEN}") { return 401; }
      ${proxy}
    }
  }
}
`,
  );
  const child: ChildProcess = spawn('nginx', ['-p', dir, '-c', conf], { stdio: 'ignore' });
  await waitFor('nginx to listen', async () => {
    if (child.exitCode !== null)
      throw new Error(`nginx exited: ${readFileSync(join(dir, 'error.log'), 'utf8')}`);
    return (await fetch(`http://127.0.0.1:${bearerPort}/`).catch(() => null)) !== null;
  });
  return {
    basicUrl: `https://127.0.0.1:${basicPort}${upstream.pathname}`,
    bearerUrl: `http://127.0.0.1:${bearerPort}${upstream.pathname}`,
    async stop() {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

describe('Schema Registry client: authentication and TLS', { timeout: 180_000 }, () => {
  let dir: string;
  let pki: Pki;
  let proxy: Proxy;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'meshpipe-registry-proxy-'));
    pki = makePki(dir);
    proxy = await startProxy(dir, pki, new URL(await testSchemaRegistryUrl()));
  });
  after(async () => {
    await proxy.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const settings = (change: Partial<SchemaRegistrySettings>): SchemaRegistrySettings => ({
    ...schemaRegistrySpec.default,
    timeoutMs: 5000,
    ...change,
  });
  const connect = (s: SchemaRegistrySettings) =>
    connectSchemaRegistry({
      settings: s,
      topicPrefix: `test-auth-${randomBytes(4).toString('hex')}`,
      registry: loadSchemaRegistry(),
    });
  const tls = () => ({ ca: pki.ca, cert: pki.clientCert, key: pki.clientKey });

  it('registers through TLS with a private CA, a client certificate and basic authentication', async () => {
    const connection = await connect(
      settings({ url: proxy.basicUrl, username: USER, password: PASSWORD, tls: tls() }),
    );
    assert.ok(connection !== undefined && connection.subjects.length > 0);
  });

  it('registers with a bearer token', async () => {
    const connection = await connect(settings({ url: proxy.bearerUrl, bearerToken: TOKEN }));
    assert.ok(connection !== undefined && connection.subjects.length > 0);
  });

  it('names what is wrong when the proxy refuses: credentials, client certificate, CA', async () => {
    const refused =
      (expected: string, check?: (err: Error & { hint?: string }) => void) =>
      (err: Error & { code?: string; hint?: string }) => {
        assert.equal(err.code, expected, err.message);
        assert.ok(
          !err.message.includes(PASSWORD) && !err.message.includes(TOKEN),
          'no credential in the message',
        );
        check?.(err);
        return true;
      };
    await assert.rejects(
      connect(settings({ url: proxy.basicUrl, username: USER, password: 'wrong', tls: tls() })),
      refused(ERRORS.SCHEMA_REGISTRY_REFUSED.code, (err) => {
        assert.match(err.message, /HTTP 401/);
        assert.match(err.hint ?? '', /username\/password or bearerToken/);
      }),
    );
    await assert.rejects(
      connect(settings({ url: proxy.bearerUrl, bearerToken: 'not-the-token' })),
      refused(ERRORS.SCHEMA_REGISTRY_REFUSED.code, (err) => assert.match(err.message, /HTTP 401/)),
    );
    // No client certificate: nginx answers 400 ("No required SSL certificate was sent").
    await assert.rejects(
      connect(
        settings({
          url: proxy.basicUrl,
          username: USER,
          password: PASSWORD,
          tls: { ca: pki.ca, cert: null, key: null },
        }),
      ),
      refused(ERRORS.SCHEMA_REGISTRY_REFUSED.code, (err) => assert.match(err.message, /HTTP 400/)),
    );
    // The system roots do not know the test CA: the TLS handshake fails, the registry is unreachable.
    await assert.rejects(
      connect(settings({ url: proxy.basicUrl, username: USER, password: PASSWORD })),
      refused(ERRORS.SCHEMA_REGISTRY_UNAVAILABLE.code, (err) => assert.match(err.message, /certificate/i)),
    );
  });
});
