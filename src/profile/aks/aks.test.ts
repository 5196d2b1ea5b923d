/**
 * AKS input as it is. The fixtures in examples/aks/ have the shapes Azure's tools print: `az aks show -o json`
 * (Python attribute names: dnsServiceIp, osSku, vnetSubnetId; az output reference
 * https://learn.microsoft.com/cli/azure/aks#az-aks-show), `az network vnet show -o json`, `az network vnet
 * peering list -o json`, and an ARM template as `az bicep build` writes it (ARM names: dnsServiceIP, osSKU,
 * vnetSubnetID; https://learn.microsoft.com/azure/templates/microsoft.containerservice/managedclusters).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { PodnetError } from '../../errors/index.js';
import { checkPlan } from '../../plan/check.js';
import { below, mulberry32 } from '../../testing/fuzz.js';
import { profileFromObject, profileToObject } from '../normalize.js';
import { type InputDocument, ignoredMessage, kindOf, profileFromDocuments } from './index.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');
const fixture = (name: string): InputDocument => ({
  source: name,
  data: JSON.parse(readFileSync(join(ROOT, 'examples/aks', name), 'utf8')),
});
const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v));
const AKS = fixture('aks-show.json');
const VNET = fixture('vnet.json');
const PEERINGS = fixture('peerings.json');
const TEMPLATE = fixture('arm-template.json');

function fails(fn: () => unknown, code: string, field: string | RegExp, message?: RegExp): PodnetError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof PodnetError, `not a PodnetError: ${e}`);
    assert.equal(e.code, code, e.message);
    if (typeof field === 'string') assert.equal(e.field, field, e.message);
    else assert.match(e.field ?? '', field);
    if (message) assert.match(e.message, message);
    assert.ok(e.hint, 'a hint');
    return e;
  }
  assert.fail(`expected ${code}`);
}

describe('AKS input: what each document is', () => {
  it('tells the shapes apart by their Azure resource type, case-insensitively', () => {
    assert.equal(kindOf(AKS.data), 'managedCluster');
    assert.equal(kindOf(VNET.data), 'vnet');
    assert.equal(kindOf(PEERINGS.data), 'peerings');
    assert.equal(kindOf(TEMPLATE.data), 'armTemplate');
    assert.equal(kindOf({ name: 'x', agentPoolProfiles: [] }), 'podnet');
  });
});

describe('AKS input: az aks show with its VNet and peerings', () => {
  const loaded = profileFromDocuments([AKS, VNET, PEERINGS]);
  const p = loaded.profile;

  it('reads the network profile under az spellings (dnsServiceIp, IPv4)', () => {
    assert.equal(p.name, 'aks-shop');
    assert.deepEqual(p.network.podCidrs, ['10.244.0.0/16']);
    assert.deepEqual(p.network.serviceCidrs, ['10.0.0.0/16']);
    assert.equal(p.network.dnsServiceIp, '10.0.0.10');
    assert.deepEqual(p.network.ipFamilies, ['ipv4']);
  });

  it('resolves each pool subnet from its vnetSubnetId in the VNet', () => {
    assert.deepEqual(
      p.nodePools.map((x) => [x.name, x.subnet]),
      [
        ['system', 'snet-system'],
        ['apps', 'snet-apps'],
      ],
    );
    assert.deepEqual(p.vnet.subnets, [
      { name: 'snet-system', cidr: '10.224.0.0/24' },
      { name: 'snet-apps', cidr: '10.225.0.0/16' },
    ]);
    assert.deepEqual(p.vnet.addressSpaces, ['10.224.0.0/12']);
  });

  it("reads a dual-stack subnet's IPv6 /64 from addressPrefixes (az network vnet show), in either order", () => {
    const vnet = clone(VNET);
    const data = vnet.data as { subnets: Record<string, unknown>[] };
    data.subnets[0].addressPrefix = undefined;
    data.subnets[0].addressPrefixes = ['fd00:10::/64', '10.224.0.0/24'];
    const dual = profileFromDocuments([AKS, vnet]).profile;
    assert.deepEqual(dual.vnet.subnets[0], {
      name: 'snet-system',
      cidr: '10.224.0.0/24',
      cidr6: 'fd00:10::/64',
    });
    assert.deepEqual(dual.vnet.subnets[1], { name: 'snet-apps', cidr: '10.225.0.0/16' });
  });

  it('plans an autoscaled pool at its maxCount, with osSku and a percentage surge', () => {
    const apps = p.nodePools[1];
    assert.equal(apps.count, 40);
    assert.equal(apps.maxSurge, 4); // 10% of 40, rounded up, as AKS does
    assert.equal(apps.osSku, 'AzureLinux');
  });

  it('takes the peerings of the VNet and of the peering list, once each', () => {
    assert.deepEqual(p.connectedNetworks, [
      { name: 'shop-to-hub', kind: 'peering', cidrs: ['10.100.0.0/16'] },
      { name: 'shop-to-shared', kind: 'peering', cidrs: ['10.110.0.0/16', '10.111.0.0/16'] },
    ]);
  });

  it('lists the read-only and unrelated fields in one warning, and none it used', () => {
    const fields = loaded.ignored.flatMap((x) => x.fields);
    for (const f of ['provisioningState', 'agentPoolProfiles[].mode', 'networkProfile.networkPolicy', 'fqdn'])
      assert.ok(fields.includes(f), f);
    for (const f of ['networkProfile.dnsServiceIp', 'agentPoolProfiles[].vnetSubnetId', 'name', 'podCidr'])
      assert.ok(!fields.some((x) => x.endsWith(f)), f);
    assert.match(
      ignoredMessage(loaded.ignored) ?? '',
      /^ignored \d+ read-only or unrelated fields: aks-show\.json: /,
    );
    assert.ok(checkPlan(p).valid);
  });

  it('names the field of the az output when a value is wrong', () => {
    const bad = clone(AKS);
    (bad.data as { networkProfile: Record<string, unknown> }).networkProfile.dnsServiceIp = '10.0.0.300';
    fails(
      () => profileFromDocuments([bad, VNET]),
      'InvalidIpAddress',
      'networkProfile.dnsServiceIp',
      /aks-show\.json/,
    );
  });

  it('accepts dnsServiceIP (ARM spelling) as well as dnsServiceIp', () => {
    const arm = clone(AKS);
    const np = (arm.data as { networkProfile: Record<string, unknown> }).networkProfile;
    np.dnsServiceIP = '10.0.0.53';
    np.dnsServiceIp = undefined;
    assert.equal(profileFromDocuments([arm, VNET]).profile.network.dnsServiceIp, '10.0.0.53');
  });

  it('refuses a cluster that is not overlay: kubenet, node-subnet, no CNI', () => {
    for (const [plugin, mode, field] of [
      ['kubenet', null, 'networkProfile.networkPlugin'],
      ['azure', null, 'networkProfile.networkPluginMode'],
      ['none', null, 'networkProfile.networkPlugin'],
    ] as const) {
      const d = clone(AKS);
      const np = (d.data as { networkProfile: Record<string, unknown> }).networkProfile;
      np.networkPlugin = plugin;
      np.networkPluginMode = mode;
      fails(() => profileFromDocuments([d, VNET]), 'AksNotOverlay', field);
    }
  });

  it('asks for the VNet when pools name subnets by id and it is missing, with the az command', () => {
    const e = fails(() => profileFromDocuments([AKS]), 'AksVnetMissing', '--file', /vnet-shop/);
    assert.match(e.hint ?? '', /az network vnet show -g rg-shop -n vnet-shop -o json/);
  });

  it('refuses a subnet id the VNet does not have, naming the subnets it has', () => {
    const d = clone(AKS);
    const pools = (d.data as { agentPoolProfiles: Record<string, string>[] }).agentPoolProfiles;
    pools[1].vnetSubnetId = pools[1].vnetSubnetId.replace('snet-apps', 'snet-gone');
    const e = fails(
      () => profileFromDocuments([d, VNET]),
      'AksSubnetNotFound',
      'agentPoolProfiles[1].vnetSubnetId',
    );
    assert.match(e.hint ?? '', /snet-system, snet-apps/);
  });

  it('refuses two clusters, or a podnet profile mixed with AKS input', () => {
    fails(() => profileFromDocuments([AKS, AKS, VNET]), 'ProfileDocumentsConflict', '--file');
    fails(() => profileFromDocuments([VNET, PEERINGS]), 'ProfileDocumentsConflict', '--file');
    fails(
      () => profileFromDocuments([{ source: 'p.yaml', data: { agentPoolProfiles: [{ name: 'a' }] } }, VNET]),
      'ProfileDocumentsConflict',
      '--file',
    );
  });
});

describe('AKS input: ARM templates and resources', () => {
  it('reads a template: parameter defaults, literal resourceId subnets, the VNet resource', () => {
    const loaded = profileFromDocuments([TEMPLATE]);
    const p = loaded.profile;
    assert.equal(p.name, 'aks-shop');
    assert.deepEqual(p.network.podCidrs, ['10.244.0.0/16']);
    assert.deepEqual(
      p.nodePools.map((x) => [x.name, x.subnet, x.count]),
      [
        ['system', 'snet-system', 3],
        ['apps', 'snet-apps', 40],
      ],
    );
    assert.ok(loaded.ignored[0].fields.includes('resources[].properties.agentPoolProfiles[].mode'));
  });

  it('reads one resource (properties nested) as az resource show prints it', () => {
    const t = TEMPLATE.data as { resources: Record<string, unknown>[] };
    const cluster = clone(t.resources[1]);
    cluster.name = 'one';
    (cluster.properties as { networkProfile: Record<string, unknown> }).networkProfile.podCidr =
      '10.250.0.0/16';
    const vnet = clone(t.resources[0]);
    const p = profileFromDocuments([
      { source: 'mc.json', data: cluster },
      { source: 'vnet.json', data: vnet },
    ]).profile;
    assert.equal(p.name, 'one');
    assert.deepEqual(p.network.podCidrs, ['10.250.0.0/16']);
  });

  it('refuses an expression it cannot evaluate, at its field', () => {
    const d = clone(TEMPLATE);
    const mc = (d.data as { resources: { properties: { networkProfile: Record<string, unknown> } }[] })
      .resources[1];
    mc.properties.networkProfile.serviceCidr = "[concat(variables('a'), '/16')]";
    fails(
      () => profileFromDocuments([d]),
      'AksTemplateExpression',
      'resources[].properties.networkProfile.serviceCidr',
    );
  });
});

describe("podnet's own format: every unknown field in one run", () => {
  it('reports all of them at once, with suggestions that make sense', () => {
    const e = fails(
      () =>
        profileFromDocuments([
          {
            source: 'p.yaml',
            data: {
              colour: 'blue',
              networkProfile: {
                dnsServiceIp: '10.0.0.10',
                podCIDR: '10.244.0.0/16',
                networkPolicy: 'cilium',
              },
              agentPoolProfiles: [{ name: 'a', mode: 'System', vnetSubnetId: '/x', maxPod: 30 }],
            },
          },
        ]),
      'InvalidProfile',
      'colour',
    );
    const unknown = (e.details?.unknownFields ?? []) as { field: string; advice?: string }[];
    assert.deepEqual(
      unknown.map((u) => u.field),
      [
        'colour',
        'networkProfile.dnsServiceIp',
        'networkProfile.podCIDR',
        'networkProfile.networkPolicy',
        'agentPoolProfiles[0].mode',
        'agentPoolProfiles[0].vnetSubnetId',
        'agentPoolProfiles[0].maxPod',
      ],
    );
    const advice = Object.fromEntries(unknown.map((u) => [u.field, u.advice]));
    assert.equal(advice['networkProfile.dnsServiceIp'], 'did you mean "dnsServiceIP"?');
    assert.equal(advice['networkProfile.podCIDR'], 'did you mean "podCidr"?');
    assert.equal(advice['agentPoolProfiles[0].maxPod'], 'did you mean "maxPods"?');
    assert.match(advice['agentPoolProfiles[0].mode'] ?? '', /no System\/User pool mode/);
    assert.doesNotMatch(advice['agentPoolProfiles[0].mode'] ?? '', /name/);
    assert.match(advice['agentPoolProfiles[0].vnetSubnetId'] ?? '', /vnetSubnetName/);
    assert.match(e.message, /^7 unknown fields /);
  });
});

describe('AKS input fuzz: coded errors, never a stack', () => {
  const CODES = new Set([
    'InvalidProfile',
    'InvalidCidr',
    'CidrHostBitsSet',
    'InvalidIpAddress',
    'AksNotOverlay',
    'AksVnetMissing',
    'AksSubnetNotFound',
    'AksTemplateExpression',
    'ProfileDocumentsConflict',
  ]);
  const VALUES: unknown[] = [
    null,
    0,
    -1,
    1.5,
    1e9,
    '',
    'x',
    '[x]',
    "[parameters('nope')]",
    true,
    [],
    {},
    [1],
    { a: 1 },
    '10.0.0.0/8',
    '/subscriptions/a/virtualNetworks/v/subnets/s',
  ];

  /** Replaces or deletes a random value somewhere in the document. */
  function mutate(v: unknown, rnd: () => number): unknown {
    const paths: { parent: Record<string, unknown> | unknown[]; key: string | number }[] = [];
    const walk = (x: unknown) => {
      if (Array.isArray(x))
        x.forEach((c, i) => {
          paths.push({ parent: x, key: i });
          walk(c);
        });
      else if (x && typeof x === 'object')
        for (const [k, c] of Object.entries(x)) {
          paths.push({ parent: x as Record<string, unknown>, key: k });
          walk(c);
        }
    };
    walk(v);
    for (let n = 1 + below(rnd, 3); n > 0 && paths.length > 0; n--) {
      const { parent, key } = paths[below(rnd, paths.length)];
      if (below(rnd, 4) === 0 && !Array.isArray(parent))
        delete (parent as Record<string, unknown>)[key as string];
      else (parent as Record<string | number, unknown>)[key] = clone(VALUES[below(rnd, VALUES.length)]);
    }
    return v;
  }

  it('mutated az aks show, VNet, peering and template documents load or fail with a code, field and hint', () => {
    const rnd = mulberry32(1313);
    let loaded = 0;
    let refused = 0;
    for (let i = 0; i < 1500; i++) {
      const set = i % 2 === 0 ? [AKS, VNET, PEERINGS] : [TEMPLATE];
      const docs = set.map((d) => ({
        source: d.source,
        data: below(rnd, 2) ? mutate(clone(d.data), rnd) : clone(d.data),
      }));
      try {
        const r = profileFromDocuments(docs);
        checkPlan(r.profile);
        loaded++;
      } catch (e) {
        assert.ok(e instanceof PodnetError, `iteration ${i}: ${e instanceof Error ? e.stack : e}`);
        assert.ok(CODES.has(e.code), `iteration ${i}: unexpected ${e.code} ${e.message}`);
        assert.ok(e.field && e.hint, `iteration ${i}: ${e.code} without field or hint`);
        refused++;
      }
    }
    assert.ok(loaded > 100 && refused > 100, `loaded ${loaded}, refused ${refused}`);
  });
});

describe('profileToObject: what cluster show prints is a profile plan takes back', () => {
  it('round-trips the AKS fixtures and the template through the format', () => {
    for (const docs of [[AKS, VNET, PEERINGS], [TEMPLATE]]) {
      const p = profileFromDocuments(docs).profile;
      const o = profileToObject(p);
      assert.equal((o.networkProfile as Record<string, unknown>).dnsServiceIP, '10.0.0.10');
      assert.deepEqual(profileFromObject(JSON.parse(JSON.stringify(o))), p);
    }
  });
});
