/**
 * Azure NSGs and NICs as cluster objects, through main(argv, io) on a memory store: applied in the shapes
 * `az network nsg show -o json` and `az network nic show -o json` print (one object, or a JSON list as
 * `az ... list` prints), listed and deleted kubectl-style, refused with Azure's rules (priority 100-4096 and
 * unique per direction: learn.microsoft.com/azure/virtual-network/network-security-groups-overview#security-rules)
 * with nothing of a failed apply stored, and read back by `podnet trace --store`.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadProfileFile } from '../../profile/load.js';
import { openStore, openVersionedStore } from '../../store/open.js';
import { runMain as podnet } from './testing/run-cli.js';

const EXAMPLES = join(resolve(dirname(fileURLToPath(import.meta.url)), '../../../..'), 'examples/trace');
const dir = mkdtempSync(join(tmpdir(), 'podnet-azure-objects-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const ID = '/subscriptions/0000/resourceGroups/shop/providers/Microsoft.Network';
const dbNicNsg = {
  name: 'db-nic-nsg',
  id: `${ID}/networkSecurityGroups/db-nic-nsg`,
  type: 'Microsoft.Network/networkSecurityGroups',
  etag: 'W/"1"',
  location: 'westeurope',
  securityRules: [
    {
      name: 'deny-ssh',
      priority: 200,
      direction: 'Inbound',
      access: 'Deny',
      protocol: 'Tcp',
      sourceAddressPrefix: '*',
      sourcePortRange: '*',
      destinationAddressPrefix: '*',
      destinationPortRange: '22',
    },
  ],
  networkInterfaces: [{ id: `${ID}/networkInterfaces/user-0-nic` }],
};
// ARM's own nesting (`properties`), as `az resource show` and templates have it.
const userNic = {
  name: 'user-0-nic',
  type: 'Microsoft.Network/networkInterfaces',
  properties: {
    ipConfigurations: [{ name: 'ipconfig1', properties: { privateIPAddress: '10.224.1.4' } }],
    networkSecurityGroup: { id: `${ID}/networkSecurityGroups/db-nic-nsg` },
  },
};

function file(name: string, value: unknown): string {
  const p = join(dir, name);
  writeFileSync(p, JSON.stringify(value, null, 2));
  return p;
}

async function dump(url: string): Promise<string> {
  const s = await openVersionedStore(url);
  try {
    return JSON.stringify(await s.list(''));
  } finally {
    await s.close();
  }
}

describe('NSG and NIC objects', () => {
  it('apply takes the az shapes (a list of both), get lists them, trace --store decides with them', async () => {
    const url = 'memory:azure-objects-1';
    const cluster = await openStore(url);
    await cluster.putCluster(loadProfileFile(join(EXAMPLES, 'cluster.yaml')), 0);
    await cluster.close();
    const both = file('both.json', [dbNicNsg, userNic]);
    const applied = await podnet(['apply', '-f', both, '--store', url]);
    assert.equal(applied.code, 0, applied.out + applied.err);
    assert.equal(
      applied.out,
      'networksecuritygroup.network.azure.com/db-nic-nsg created\nnetworkinterface.network.azure.com/user-0-nic created',
    );
    const again = await podnet(['apply', '-f', both, '--store', url]);
    assert.match(again.out, /db-nic-nsg unchanged/);

    const nsgs = await podnet(['get', 'nsg', '--store', url]);
    assert.match(nsgs.out, /^NAME\s+RULES\s+SUBNETS\s+NICS\s+AGE\ndb-nic-nsg\s+1\s+<none>\s+user-0-nic\s+/);
    const nic = JSON.parse((await podnet(['get', 'nic', 'user-0-nic', '--store', url, '-o', 'json'])).out);
    assert.equal(nic.kind, 'NetworkInterface');
    assert.equal(nic.apiVersion, 'network.azure.com/v1');
    assert.equal(nic.spec.ipConfigurations[0].properties.privateIPAddress, '10.224.1.4');

    const flow = ['--from', '10.224.0.4', '--to', '10.224.1.4', '--protocol', 'TCP', '--store', url];
    const ssh = JSON.parse((await podnet(['trace', ...flow, '--port', '22', '-o', 'json'])).out);
    assert.equal(ssh.verdict, 'deny');
    assert.deepEqual(ssh.decidedBy, [{ layer: 'nsg', object: 'db-nic-nsg', rule: 'deny-ssh' }]);
    const web = JSON.parse((await podnet(['trace', ...flow, '--port', '80', '-o', 'json'])).out);
    assert.equal(web.verdict, 'allow');
    assert.deepEqual(
      web.decidedBy.filter((d: { layer: string }) => d.layer === 'nsg'),
      [{ layer: 'nsg', object: 'db-nic-nsg', rule: 'AllowVnetInBound' }],
    );

    const deleted = await podnet(['delete', 'nsg', 'db-nic-nsg', '--store', url]);
    assert.equal(deleted.out, 'networksecuritygroup.network.azure.com "db-nic-nsg" deleted');
    // delete -f takes the az shapes too.
    const byFile = await podnet(['delete', '-f', file('nic-only.json', [userNic]), '--store', url]);
    assert.equal(byFile.out, 'networkinterface.network.azure.com "user-0-nic" deleted');
    const after = JSON.parse((await podnet(['trace', ...flow, '--port', '22', '-o', 'json'])).out);
    assert.equal(after.verdict, 'allow');
    assert.deepEqual(after.notEvaluated, ['nsg', 'networkpolicy']);
  });

  it('an NSG Azure would refuse is refused with every field, and nothing of the apply lands', async () => {
    const url = 'memory:azure-objects-2';
    await podnet(['apply', '-f', file('nic.json', userNic), '--store', url]);
    const before = await dump(url);
    const bad = {
      ...dbNicNsg,
      securityRules: [
        { ...dbNicNsg.securityRules[0], priority: 50 },
        { ...dbNicNsg.securityRules[0], name: 'dup-a', priority: 300 },
        { ...dbNicNsg.securityRules[0], name: 'dup-b', priority: 300, destinationPortRange: '70000' },
      ],
    };
    const good = { ...dbNicNsg, name: 'other-nsg' };
    const r = await podnet(['apply', '-f', file('bad.json', [good, bad]), '--store', url, '-o', 'json']);
    assert.equal(r.code, 1);
    const { error } = JSON.parse(r.out);
    assert.equal(error.code, 'ObjectsInvalid');
    const fields = error.details.problems.map((p: { field: string }) => p.field);
    assert.deepEqual(fields, [
      'securityRules[0].priority',
      'securityRules[2].destinationPortRange',
      'securityRules[2].priority',
    ]);
    assert.match(error.message, /priority 300 is already used by Inbound rule "dup-a"/);
    assert.equal(await dump(url), before, 'the valid NSG of the same apply did not land either');
  });

  it('names and NIC addresses follow Azure: a bad name, a bad address, a bad NSG id', async () => {
    const r = await podnet([
      'apply',
      '-f',
      file('bad-nic.json', {
        name: '-nic',
        type: 'Microsoft.Network/networkInterfaces',
        ipConfigurations: [{ privateIPAddress: '10.224.1.400' }],
        networkSecurityGroup: { id: 'db-nic-nsg' },
      }),
      '--store',
      'memory:azure-objects-3',
      '-o',
      'json',
    ]);
    assert.equal(r.code, 1);
    const fields = JSON.parse(r.out).error.details.problems.map((p: { field: string }) => p.field);
    assert.deepEqual(fields, [
      'metadata.name',
      'ipConfigurations[0].privateIPAddress',
      'networkSecurityGroup.id',
    ]);
  });
});
