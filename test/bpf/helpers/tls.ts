/**
 * TLS for real-kernel tests: a throw-away PKI (test/helpers/pki.ts) whose server certificate is valid for
 * the pods' server address, so clients verify it against the CA, and nginx serving HTTPS inside a pod.
 * Everything lives in one temp directory, removed by `remove()`.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LOCAL_DIR } from '../../../lib/paths.ts';
import { makePki } from '../../helpers/pki.ts';
import { waitFor } from '../../helpers/wait.ts';
import { type Pod, podExec, podSpawn, stopProcess } from './pods.ts';

/** The venv scripts/setup makes, with `requests` from PyPI. */
export const PYTHON = join(LOCAL_DIR, 'python', 'bin', 'python');

/** The system's libssl (as the dynamic linker finds it, symlinks resolved: how the kernel names it). */
export function systemLibssl(): string {
  const line = execFileSync('ldconfig', ['-p'], { encoding: 'utf8' })
    .split('\n')
    .find((l) => /^\s*libssl\.so\.3 /.test(l));
  if (line === undefined) throw new Error('no libssl.so.3 in the dynamic linker cache (ldconfig -p)');
  return realpathSync(line.slice(line.indexOf('=> ') + 3).trim());
}

export interface TlsFiles {
  readonly dir: string;
  /** The CA clients verify the server with. */
  readonly ca: string;
  /** The server's certificate and key. */
  readonly cert: string;
  readonly key: string;
  remove(): void;
}

/** A CA and a server certificate valid for `ip` (and 127.0.0.1, localhost), in a new temp directory. */
export function makeCertificate(ip: string): TlsFiles {
  const dir = mkdtempSync(join(tmpdir(), 'meshpipe-tls-'));
  const pki = makePki(dir, { serverIps: [ip] });
  return {
    dir,
    ca: pki.ca,
    cert: pki.serverCert,
    key: pki.serverKey,
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/**
 * nginx (the Debian package, libssl) in a pod, HTTPS on each of `ports`: `/` answers "nginx tls ok",
 * `/big` is a static body of `bigBytes` bytes ('n'), `/hello` echoes nothing but a 200.
 */
export async function startTlsNginx(
  pod: Pod,
  ports: readonly number[],
  tls: TlsFiles,
  bigBytes = 200_000,
): Promise<{ stop(): Promise<void> }> {
  const dir = mkdtempSync(join(tls.dir, 'nginx-'));
  writeFileSync(join(dir, 'big'), Buffer.alloc(bigBytes, 'n'));
  // nginx's worker runs as nobody: it must reach the static body.
  for (const d of [tls.dir, dir]) chmodSync(d, 0o755);
  const conf = join(dir, 'nginx.conf');
  writeFileSync(
    conf,
    `daemon off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  keepalive_requests 10000;
  ssl_certificate ${tls.cert};
  ssl_certificate_key ${tls.key};
  server {
${ports.map((p) => `    listen ${p} ssl;`).join('\n')}
    location = / { return 200 "nginx tls ok\\n"; }
    location = /hello { return 200 "hello\\n"; }
    location = /big { alias ${dir}/big; }
  }
}
`,
  );
  const child = podSpawn(pod, 'nginx', ['-p', dir, '-c', conf]);
  await waitFor(`nginx listening in ${pod.ns}`, async () => {
    if (child.exitCode !== null)
      throw new Error(`nginx exited: ${readFileSync(join(dir, 'error.log'), 'utf8')}`);
    const out = await podExec(pod, 'ss', ['-ltn']);
    return ports.every((p) => out.includes(`:${p} `));
  });
  return { stop: () => stopProcess(child) };
}
