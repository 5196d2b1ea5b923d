/**
 * Azure's network objects as cluster objects: network security groups and network interfaces, applied in the
 * shape `az network nsg show -o json` and `az network nic show -o json` print (the ARM resource, `properties`
 * flattened or not; one object or a JSON list). Such a document becomes an object of the `network.azure.com`
 * group (the group Azure Service Operator gives these resources): the resource's `name` is `metadata.name`,
 * everything else is kept in `spec` as given. One parser decides what is valid: src/nsg/parse.ts, with
 * Azure's rules (priorities, directions, prefixes, ports, tags, ARM ids).
 */
import { type NsgProblem, armProperties, parseNic, parseNsg } from '../../nsg/parse.js';
import type { Nic, Nsg } from '../../nsg/types.js';
import { isPlainObject } from '../json.js';
import { type ObjectKind, ageColumn } from '../kind.js';
import type { FieldProblem } from '../problems.js';
import { any } from '../schema.js';
import type { KubeObject } from '../types.js';

const GROUP_VERSION = 'network.azure.com/v1';
type Obj = Record<string, unknown>;

/** The ARM document `spec` holds, with the object's name as the resource's. */
const armOf = (o: KubeObject): Obj => ({
  ...(isPlainObject(o.spec) ? (o.spec as Obj) : {}),
  name: o.metadata.name,
});

const fieldProblems = (problems: NsgProblem[]): FieldProblem[] =>
  problems.map((p) => ({
    type: 'Invalid',
    field: p.field,
    message: `${p.field}: ${p.message}`,
    hint: 'Azure refuses this too; fix it in the az-shaped document and apply again',
  }));

/** The az document as an object of `kind`, when it is a resource of ARM type `armType` (or has `marker`). */
function adopter(kind: string, armType: string, marker: string) {
  return (doc: Obj): Obj | undefined => {
    if (doc.apiVersion !== undefined || doc.kind !== undefined) return undefined;
    const flat = armProperties(doc);
    const type = typeof doc.type === 'string' ? doc.type.toLowerCase() : '';
    if (type !== armType && !(type === '' && marker in flat)) return undefined;
    const { name, type: _type, properties: _properties, ...spec } = flat;
    return { apiVersion: GROUP_VERSION, kind, metadata: { name }, spec };
  };
}

/** The NSG an object holds, as the NSG engine reads it (the object is valid: apply checked it). */
export function nsgOfObject(o: KubeObject): Nsg {
  const { nsg, problems } = parseNsg(armOf(o));
  if (!nsg) throw new Error(`NSG ${o.metadata.name}: ${problems.map((p) => p.message).join('; ')}`);
  return nsg;
}

export function nicOfObject(o: KubeObject): Nic {
  const { nic, problems } = parseNic(armOf(o));
  if (!nic) throw new Error(`NIC ${o.metadata.name}: ${problems.map((p) => p.message).join('; ')}`);
  return nic;
}

const list = (xs: string[]) => (xs.length > 0 ? xs.join(',') : '<none>');

export const nsgKind: ObjectKind = {
  apiVersion: GROUP_VERSION,
  kind: 'NetworkSecurityGroup',
  resource: 'networksecuritygroups.network.azure.com',
  aliases: ['networksecuritygroup', 'nsg', 'nsgs'],
  namespaced: false,
  nameRule: 'azure',
  // Everything `az` prints is kept (etag, location, defaultSecurityRules, ...); parse.ts reads what counts.
  fields: { spec: any },
  adopt: adopter('NetworkSecurityGroup', 'microsoft.network/networksecuritygroups', 'securityRules'),
  validate: (o) => fieldProblems(parseNsg(armOf(o)).problems),
  validateUpdate: () => [],
  prepare: (o) => o,
  columns: [
    { header: 'NAME', value: (o) => o.metadata.name },
    { header: 'RULES', value: (o) => String(nsgOfObject(o).rules.filter((r) => !r.default).length) },
    { header: 'SUBNETS', value: (o) => list(nsgOfObject(o).subnets) },
    { header: 'NICS', value: (o) => list(nsgOfObject(o).networkInterfaces) },
    ageColumn,
  ],
};

export const nicKind: ObjectKind = {
  apiVersion: GROUP_VERSION,
  kind: 'NetworkInterface',
  resource: 'networkinterfaces.network.azure.com',
  aliases: ['networkinterface', 'nic', 'nics'],
  namespaced: false,
  nameRule: 'azure',
  fields: { spec: any },
  adopt: adopter('NetworkInterface', 'microsoft.network/networkinterfaces', 'ipConfigurations'),
  validate: (o) => fieldProblems(parseNic(armOf(o)).problems),
  validateUpdate: () => [],
  prepare: (o) => o,
  columns: [
    { header: 'NAME', value: (o) => o.metadata.name },
    { header: 'PRIVATE-IP', value: (o) => list(nicOfObject(o).ips) },
    { header: 'NSG', value: (o) => nicOfObject(o).nsg ?? '<none>' },
    ageColumn,
  ],
};
