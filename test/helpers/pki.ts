/**
 * A throw-away PKI made with openssl: a CA, a server certificate for 127.0.0.1 / localhost (and any
 * `serverIps`, e.g. a pod's address) and a client certificate, EC P-256, valid one day; keys unencrypted PKCS#8 PEM (what Node and Kafka's PEM stores
 * read). For tests of TLS and mutual TLS against real servers.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface Pki {
  ca: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
}

export function makePki(dir: string, options: { serverIps?: readonly string[] } = {}): Pki {
  const run = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  run(
    'req',
    '-x509',
    ...ec,
    '-keyout',
    'ca.key',
    '-out',
    'ca.pem',
    '-days',
    '1',
    '-subj',
    '/CN=meshpipe-test-ca',
  );
  for (const [name, ext] of [
    [
      'server',
      `subjectAltName=IP:127.0.0.1,DNS:localhost${(options.serverIps ?? []).map((ip) => `,IP:${ip}`).join('')}`,
    ],
    ['client', 'extendedKeyUsage=clientAuth'],
  ] as const) {
    run('req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`);
    writeFileSync(join(dir, `${name}.ext`), `${ext}\n`);
    run(
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      `${name}.pem`,
      '-days',
      '1',
      '-extfile',
      `${name}.ext`,
    );
  }
  return {
    ca: join(dir, 'ca.pem'),
    serverCert: join(dir, 'server.pem'),
    serverKey: join(dir, 'server.key'),
    clientCert: join(dir, 'client.pem'),
    clientKey: join(dir, 'client.key'),
  };
}
