/**
 * A store that looks like `podnet demo`'s: the default lab profile, three nodes on two subnets with their
 * blocks, two pods on each (the endpoint records agents publish), and one block in quarantine (a node that
 * left). For the browser test of the map and for the screenshot in docs/map.md.
 */
import { encodeEndpoint, endpointKey } from '../../endpoints/record.js';
import { defaultLabProfile } from '../../lab/default-profile.js';
import { openStore } from '../../store/open.js';

export async function writeDemoLikeStore(url: string, name = 'demo'): Promise<void> {
  const store = await openStore(url, { create: true });
  try {
    await store.putCluster(defaultLabProfile(name), 0);
    const nodes = [
      { nodeName: `${name}-sys-0`, nodeIp: '10.224.0.4', pool: 'sys' },
      { nodeName: `${name}-sys-1`, nodeIp: '10.224.0.5', pool: 'sys' },
      { nodeName: `${name}-user-0`, nodeIp: '10.224.1.4', pool: 'user' },
      { nodeName: `${name}-user-1`, nodeIp: '10.224.1.5', pool: 'user' },
    ];
    for (const n of nodes) await store.claimBlock({ ...n, maxPods: 250, ttlSeconds: 3600 });
    await store.releaseBlock(`${name}-user-1`);
    for (const lease of await store.listBlocks()) {
      const pods = lease.nodeName.endsWith('sys-0') ? 120 : 2;
      for (let i = 0; i < pods; i++) {
        const e = {
          node: lease.nodeName,
          nodeIp: lease.nodeIp,
          containerId: `${lease.nodeName}-c${i}`,
          ifname: 'eth0',
          ips: [lease.block.replace(/0\/24$/, String(i + 1))],
          namespace: 'default',
          name: `${lease.nodeName.slice(name.length + 1)}-p${i}`,
          labels: {},
        };
        await store.kv.txn([], [{ type: 'put', key: endpointKey(e), value: encodeEndpoint(e) }]);
      }
    }
  } finally {
    await store.close();
  }
}

/** An NSG on the demo's user subnet, as az network nsg show -o json prints one (its rules do not matter here). */
export function demoNsg(name = 'demo'): Record<string, unknown> {
  return {
    name: 'nsg-user',
    type: 'Microsoft.Network/networkSecurityGroups',
    securityRules: [],
    subnets: [
      {
        id: `/subscriptions/0000/resourceGroups/rg-lab/providers/Microsoft.Network/virtualNetworks/lab-vnet/subnets/${name}-user`,
      },
    ],
  };
}
