import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { claimSubnet, releaseSubnet } from '../../demo/claims.ts';
import {
  createPodNetwork,
  interfaceExists,
  ip,
  listNamespaces,
  podNetworkPlan,
  removePodNetwork,
  subnetUseOnHost,
} from '../../demo/netns.ts';
import { isMeshpipeError } from '../../lib/errors.ts';
import { leftovers, uniquePrefix } from './helpers.ts';

describe('pod network plan', () => {
  it('derives names and addresses from prefix, subnet and pod order', () => {
    const plan = podNetworkPlan({ prefix: 'mp-', subnet: '10.240.7.0/24', pods: ['gateway', 'client'] });
    assert.equal(plan.bridge, 'mp-br');
    assert.equal(plan.hostAddress, '10.240.7.1');
    assert.deepEqual(plan.pods, [
      { name: 'gateway', ns: 'mp-gateway', hostInterface: 'mp-v0', address: '10.240.7.2' },
      { name: 'client', ns: 'mp-client', hostInterface: 'mp-v1', address: '10.240.7.3' },
    ]);
  });

  const bad: Array<[string, { prefix: string; subnet: string; pods: string[] }]> = [
    [
      'a prefix too long for IFNAMSIZ',
      { prefix: 'a-very-long-prefix-', subnet: '10.240.0.0/24', pods: ['a'] },
    ],
    ['upper case in the prefix', { prefix: 'MP-', subnet: '10.240.0.0/24', pods: ['a'] }],
    ['a subnet that is not a /24', { prefix: 'mp-', subnet: '10.240.0.0/16', pods: ['a'] }],
    ['an octet above 255', { prefix: 'mp-', subnet: '10.300.0.0/24', pods: ['a'] }],
    ['a pod name with a dash', { prefix: 'mp-', subnet: '10.240.0.0/24', pods: ['my-pod'] }],
  ];
  for (const [name, spec] of bad) {
    it(`rejects ${name} with DEMO_BAD_OPTION`, () =>
      assert.throws(
        () => podNetworkPlan(spec),
        (e) => isMeshpipeError(e, 'DEMO_BAD_OPTION'),
      ));
  }

  it('reports a failing ip command with DEMO_NETNS_FAILED', () => {
    assert.throws(
      () => ip(['link', 'show', 'dev', 'mp-no-such-if']),
      (e) => isMeshpipeError(e, 'DEMO_NETNS_FAILED'),
    );
  });
});

describe('pod network on this machine', () => {
  it('creates namespaces with addresses, loopback and a default route, replaces leftovers, removes all', () => {
    const prefix = uniquePrefix();
    const subnet = claimSubnet(prefix, undefined, subnetUseOnHost);
    const spec = { prefix, subnet, pods: ['alpha', 'beta'] };
    try {
      createPodNetwork(spec);
      // A second create over the first one stands in for a crashed run's leftovers: it must replace them.
      const network = createPodNetwork(spec);
      assert.deepEqual(
        listNamespaces()
          .filter((n) => n.startsWith(prefix))
          .sort(),
        [`${prefix}alpha`, `${prefix}beta`],
      );
      assert.ok(interfaceExists(network.bridge));
      assert.match(subnetUseOnHost(subnet) ?? '', new RegExp(network.bridge));
      for (const pod of network.pods) {
        assert.match(
          ip(['-n', pod.ns, '-4', '-o', 'addr', 'show', 'dev', 'eth0']),
          new RegExp(`inet ${pod.address}/24`),
        );
        assert.match(ip(['-n', pod.ns, 'link', 'show', 'dev', 'lo']), /[<,]UP[,>]/);
        assert.match(
          ip(['-n', pod.ns, 'route', 'show', 'default']),
          new RegExp(`via ${network.hostAddress}`),
        );
      }
    } finally {
      removePodNetwork(spec);
      releaseSubnet(subnet);
    }
    assert.deepEqual(leftovers(prefix), []);
    // Idempotent: removing again is not an error.
    removePodNetwork(spec);
  });
});
