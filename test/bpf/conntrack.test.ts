/**
 * Service NAT, as kube-proxy makes it: a "node" network namespace routes between two pods and DNATs a
 * ClusterIP to the server pod with a real nftables rule (kube-proxy's nftables mode installs the same
 * kind of `dnat to` rule in the node's namespace). The client connects to the ClusterIP; the server
 * sees the client's pod address. The loader (bpf/loader/conntrack.c, --conntrack-netns at the node
 * namespace) looks each client connection up in conntrack at connect time, so the collector keys both
 * halves of every connection alike. The test reports the pairing rate: connections whose client and
 * server halves share one Kafka key.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Collector } from '../../collectors/collector.ts';
import type { L7RawEvent } from '../../schemas/types.ts';
import { type TestKafka, testKafka } from '../../testkit/kafka.ts';
import {
  collectorConfig,
  FIXTURES,
  RawTopicReader,
  startCollector,
  testPort,
} from '../collectors/helpers/harness.ts';
import { waitFor } from '../helpers/wait.ts';

const LOADER = fileURLToPath(new URL('../../bpf/build/meshpipe-loader', import.meta.url));
const HAVE_NFT = (() => {
  try {
    execFileSync('nft', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
const SKIP =
  process.getuid?.() !== 0
    ? 'needs root'
    : !existsSync(LOADER)
      ? 'the eBPF loader is not built'
      : !HAVE_NFT
        ? 'nft is not installed (scripts/setup installs nftables)'
        : false;

const CONNECTIONS = 40;
const CLUSTER_IP = '10.233.1.10';
const CLUSTER_PORT = 80;

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

describe('service NAT resolved through conntrack', { skip: SKIP }, () => {
  const tag = `mpct${process.pid % 100000}`;
  const ns = { node: `${tag}-node`, client: `${tag}-cli`, server: `${tag}-srv` };
  const addr = { node: '10.233.0.1', client: '10.233.0.2', server: '10.233.0.3' };
  const port = testPort();
  let k: TestKafka;
  let collector: Collector;
  let reader: RawTopicReader;
  let server: ChildProcess;

  before(async () => {
    // Pods hang off the node namespace on point-to-point veths (routed, as with most CNI plugins), so
    // replies cross the node namespace too and conntrack un-NATs them there.
    ip('netns', 'add', ns.node);
    for (const [pod, a] of [
      [ns.client, addr.client],
      [ns.server, addr.server],
    ] as const) {
      const veth = `${tag}${pod === ns.client ? 'c' : 's'}`;
      ip('netns', 'add', pod);
      ip('link', 'add', veth, 'netns', ns.node, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', pod);
      ip('-n', pod, 'link', 'set', 'lo', 'up');
      ip('-n', pod, 'link', 'set', 'eth0', 'up');
      ip('-n', pod, 'addr', 'add', `${a}/32`, 'dev', 'eth0');
      ip('-n', pod, 'route', 'add', `${addr.node}/32`, 'dev', 'eth0');
      ip('-n', pod, 'route', 'add', 'default', 'via', addr.node, 'dev', 'eth0');
      ip('-n', ns.node, 'link', 'set', veth, 'up');
      ip('-n', ns.node, 'addr', 'add', `${addr.node}/32`, 'dev', veth);
      ip('-n', ns.node, 'route', 'add', `${a}/32`, 'dev', veth);
    }
    ip('-n', ns.node, 'link', 'set', 'lo', 'up');
    execFileSync('ip', ['netns', 'exec', ns.node, 'sysctl', '-q', '-w', 'net.ipv4.ip_forward=1']);
    // kube-proxy (nftables mode) puts the Service's DNAT in the node's prerouting nat hook.
    execFileSync('ip', ['netns', 'exec', ns.node, 'nft', '-f', '-'], {
      input: `table ip meshpipe-test {
  chain services {
    type nat hook prerouting priority dstnat;
    ip daddr ${CLUSTER_IP} tcp dport ${CLUSTER_PORT} dnat to ${addr.server}:${port}
  }
}
`,
    });

    server = spawn(
      'ip',
      ['netns', 'exec', ns.server, process.execPath, `${FIXTURES}http-server.ts`, `${addr.server}:${port}`],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let output = '';
    server.stdout!.on('data', (d: Buffer) => {
      output += d.toString();
    });
    await waitFor('the server to listen', () => output.includes('ready'));

    k = await testKafka('conntrack');
    await k.createTopics();
    const config = collectorConfig({
      brokers: k.brokers,
      prefix: k.prefix,
      collector: {
        ports: [port, CLUSTER_PORT],
        conntrack: { enabled: true, netns: `/run/netns/${ns.node}` },
      },
    });
    collector = (await startCollector(config)).collector;
    reader = await RawTopicReader.start(k.kafka, k.topic('raw'));
  });

  after(async () => {
    server?.kill('SIGKILL');
    await reader?.stop();
    await collector?.stop();
    await k?.cleanup();
    for (const n of [ns.client, ns.server, ns.node]) {
      try {
        ip('netns', 'del', n);
      } catch {
        // not created
      }
    }
  });

  it('keys the client and server halves of every connection to a ClusterIP alike', {
    timeout: 120_000,
  }, async (t) => {
    const inodes = {
      client: statSync(`/run/netns/${ns.client}`).ino,
      server: statSync(`/run/netns/${ns.server}`).ino,
    };
    // Each curl invocation is one connection through the DNAT.
    for (let i = 0; i < CONNECTIONS; i++) {
      execFileSync('ip', [
        'netns',
        'exec',
        ns.client,
        'curl',
        '-s',
        '-o',
        '/dev/null',
        '-m',
        '5',
        `http://${CLUSTER_IP}:${CLUSTER_PORT}/hello`,
      ]);
    }
    const side = (e: L7RawEvent, inode: number) =>
      Number(e.workload.netnsInode) === inode && e.kind === 'CLOSE';
    const { clients, servers } = await reader.waitFor(
      `the CLOSE of ${CONNECTIONS} connections on both sides`,
      (r) => {
        const clients = r.events((e) => side(e, inodes.client));
        const servers = r.events((e) => side(e, inodes.server));
        return clients.length >= CONNECTIONS && servers.length >= CONNECTIONS && { clients, servers };
      },
      60_000,
    );
    for (const c of clients) {
      assert.equal(c.connection.peerAddress, CLUSTER_IP, 'the client socket sees the ClusterIP');
      assert.equal(c.connection.translatedPeerAddress, addr.server, 'conntrack names the real destination');
      assert.equal(c.connection.translatedPeerPort, port);
    }
    for (const s of servers)
      assert.equal(s.connection.peerAddress, addr.client, 'the server sees the client pod');
    const serverKeys = new Set(servers.map((s) => s.connection.key));
    const paired = clients.filter((c) => serverKeys.has(c.connection.key)).length;
    const rate = paired / clients.length;
    t.diagnostic(
      `pairing rate: ${paired}/${clients.length} connections (${(rate * 100).toFixed(1)}%) share one key at both ends`,
    );
    assert.equal(rate, 1);
  });
});
