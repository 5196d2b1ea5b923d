/**
 * AKS input as it is: turns a managed cluster (`az aks show -o json`, an ARM/Bicep resource or template), the
 * VNet (`az network vnet show -o json`) and peerings (`az network vnet peering list -o json`) into podnet's
 * profile format, which then goes through the one loader and validator every profile goes through. Pure.
 *
 * The fields podnet plans with are read under both spellings Azure uses (`az` prints Python names:
 * `dnsServiceIp`, `osSku`, `vnetSubnetId`; ARM writes `dnsServiceIP`, `osSKU`, `vnetSubnetID`); every other
 * field (read-only state, identities, add-ons, ...) is listed once in `ignored`. Each profile field remembers
 * where it came from (`origin`), so a bad value is reported at the field of the file the user has.
 */
import { truncate } from '../../addr/index.js';
import { PodnetError } from '../../errors/index.js';
import { type Obj, isObj } from '../read.js';
import { type InputDocument, MANAGED_CLUSTER_TYPE, VNET_TYPE, bodyOf, kindOf, typeOf } from './documents.js';

export interface Translation {
  /** The profile in podnet's format (unvalidated: the loader checks it). */
  data: Obj;
  /** Per source file, the fields read and not used (generic paths: `agentPoolProfiles[].osDiskSizeGb`). */
  ignored: { source: string; fields: string[] }[];
  /** Profile path -> the source file and path it was read from. */
  origin: Map<string, string>;
}

/** One input document with the paths read from it, to list what was not read. */
class Tracked {
  private readonly used = new Set<string>();
  constructor(
    readonly source: string,
    readonly root: unknown,
    private readonly params: Obj = {},
    private readonly vars: Obj = {},
  ) {}

  /** The value at `key` of `o` (several spellings: the first present), marking every spelling as read. */
  take(o: Obj, generic: string, keys: string[]): { value: unknown; key: string } {
    for (const k of keys) this.used.add(`${generic}${k}`);
    const key = keys.find((k) => o[k] !== undefined && o[k] !== null) ?? keys[0];
    return { value: this.resolve(o[key], `${generic}${key}`), key };
  }

  /** Marks a whole subtree read (its leaves are read by position elsewhere). */
  mark(generic: string): void {
    this.used.add(generic);
  }

  /**
   * A template value: literal, or `[parameters('x')]` with a default value, or `[variables('x')]` with a
   * literal value. Any other expression cannot be evaluated here.
   */
  resolve(v: unknown, field: string): unknown {
    if (typeof v !== 'string' || !/^\[[^[]/.test(v) || !v.endsWith(']')) return v;
    // A subnet's resourceId(...) is read by subnetIdParts, which refuses what it cannot name.
    if (/^\[\s*resourceId\(/i.test(v)) return v;
    const m = /^\[\s*(parameters|variables)\(\s*'([^']+)'\s*\)\s*\]$/.exec(v);
    if (m) {
      const p = m[1] === 'parameters' ? this.params[m[2]] : this.vars[m[2]];
      const value = m[1] === 'parameters' ? (isObj(p) ? p.defaultValue : undefined) : p;
      if (value !== undefined && value !== null && !(typeof value === 'string' && value.startsWith('[')))
        return value;
    }
    throw new PodnetError(
      'AksTemplateExpression',
      `${this.source}: ${field} is the template expression ${truncate(v, 80)}, which podnet cannot evaluate`,
      {
        field,
        hint: 'give the deployed cluster (az aks show -o json), or write the value in place of the expression',
      },
    );
  }

  /** Non-null fields never read, as generic paths; a subtree counts once, at its top. */
  ignored(): string[] {
    const out = new Set<string>();
    const walk = (v: unknown, generic: string) => {
      if (!isObj(v)) return;
      for (const [k, child] of Object.entries(v)) {
        const path = `${generic}${k}`;
        const below = [...this.used].some((u) => u.startsWith(`${path}.`) || u.startsWith(`${path}[]`));
        if (below) {
          if (Array.isArray(child)) for (const item of child) walk(item, `${path}[].`);
          else walk(child, `${path}.`);
        } else if (!this.used.has(path) && child !== null && !(Array.isArray(child) && child.length === 0))
          out.add(path);
      }
    };
    if (Array.isArray(this.root)) for (const item of this.root) walk(item, '[].');
    else walk(this.root, '');
    return [...out];
  }
}

interface ClusterInput {
  doc: Tracked;
  resource: Obj;
  /** Path of the resource inside its file (`resources[2].` in a template). */
  at: string;
}

interface VnetInput {
  doc: Tracked;
  vnet: Obj;
  at: string;
}

const lower = (v: unknown) => (typeof v === 'string' ? v.toLowerCase() : v);

function conflict(message: string, hint: string): PodnetError {
  return new PodnetError('ProfileDocumentsConflict', message, { field: '--file', hint });
}

/** Sorts the documents into one cluster, its VNets and peerings (a template may hold several of them). */
function sortDocuments(docs: InputDocument[]): {
  clusters: ClusterInput[];
  vnets: VnetInput[];
  peerings: { doc: Tracked; list: unknown[] }[];
} {
  const clusters: ClusterInput[] = [];
  const vnets: VnetInput[] = [];
  const peerings: { doc: Tracked; list: unknown[] }[] = [];
  for (const d of docs) {
    const kind = kindOf(d.data);
    if (kind === 'managedCluster') {
      const doc = new Tracked(d.source, d.data);
      clusters.push({ doc, resource: d.data as Obj, at: '' });
    } else if (kind === 'vnet') {
      vnets.push({ doc: new Tracked(d.source, d.data), vnet: d.data as Obj, at: '' });
    } else if (kind === 'peerings') {
      peerings.push({ doc: new Tracked(d.source, d.data), list: d.data as unknown[] });
    } else if (kind === 'armTemplate') {
      const t = d.data as Obj;
      const doc = new Tracked(
        d.source,
        d.data,
        isObj(t.parameters) ? t.parameters : {},
        isObj(t.variables) ? t.variables : {},
      );
      // Paths are generic (`resources[].`), as the list of ignored fields is.
      for (const r of t.resources as unknown[]) {
        if (!isObj(r)) continue;
        if (typeOf(r) === MANAGED_CLUSTER_TYPE) clusters.push({ doc, resource: r, at: 'resources[].' });
        if (typeOf(r) === VNET_TYPE) vnets.push({ doc, vnet: r, at: 'resources[].' });
      }
      doc.mark('$schema');
      doc.mark('contentVersion');
      doc.mark('parameters');
      doc.mark('variables');
    }
  }
  return { clusters, vnets, peerings };
}

/** The subnet and VNet names of a subnet resource id (…/virtualNetworks/VNET/subnets/SUBNET). */
export function subnetIdParts(id: string): { vnet: string; subnet: string; resourceGroup?: string } | null {
  const m = /\/virtualNetworks\/([^/]+)\/subnets\/([^/]+)\/?$/i.exec(id);
  if (!m) {
    // resourceId('Microsoft.Network/virtualNetworks/subnets', 'VNET', 'SUBNET') with literal names
    const r =
      /^\[\s*resourceId\(\s*'Microsoft\.Network\/virtualNetworks\/subnets'\s*,\s*'([^']+)'\s*,\s*'([^']+)'\s*\)\s*\]$/i.exec(
        id,
      );
    return r ? { vnet: r[1], subnet: r[2] } : null;
  }
  const rg = /\/resourceGroups\/([^/]+)\//i.exec(id)?.[1];
  return { vnet: m[1], subnet: m[2], ...(rg ? { resourceGroup: rg } : {}) };
}

interface VnetView {
  input: VnetInput;
  name: string;
  resourceGroup?: string;
  addressSpaces: unknown[];
  subnets: { name: string; id?: string; cidr: unknown; cidr6?: string; path: string }[];
}

function readVnet(v: VnetInput): VnetView {
  const { doc, vnet, at } = v;
  const { body, prefix } = bodyOf(vnet);
  const p = `${at}${prefix}`;
  doc.mark(`${at}type`);
  const name = doc.take(vnet, at, ['name']).value;
  const resourceGroup = doc.take(vnet, at, ['resourceGroup']).value;
  const space = doc.take(body, p, ['addressSpace']).value;
  const addressSpaces = isObj(space) ? doc.take(space, `${p}addressSpace.`, ['addressPrefixes']).value : [];
  const subnetList = doc.take(body, p, ['subnets']).value;
  const subnets = (Array.isArray(subnetList) ? subnetList : []).filter(isObj).map((s, i) => {
    const { body: sb, prefix: sp } = bodyOf(s);
    const g = `${p}subnets[].`;
    const sname = doc.take(s, g, ['name']).value;
    const id = doc.take(s, g, ['id']).value;
    const one = doc.take(sb, `${g}${sp}`, ['addressPrefix']);
    const many = doc.take(sb, `${g}${sp}`, ['addressPrefixes']);
    // A dual-stack subnet lists its IPv4 prefix and its IPv6 /64 in addressPrefixes, in either order.
    const list: unknown[] = Array.isArray(many.value) ? many.value : [many.value];
    const v6 = (x: unknown) => typeof x === 'string' && x.includes(':');
    const at = Math.max(
      0,
      list.findIndex((x) => !v6(x)),
    );
    const cidr = one.value ?? list[at];
    const cidr6 = list.find(v6) as string | undefined;
    const key = one.value !== undefined && one.value !== null ? 'addressPrefix' : `addressPrefixes[${at}]`;
    return {
      name: typeof sname === 'string' ? sname : `subnet${i}`,
      ...(typeof id === 'string' ? { id } : {}),
      cidr,
      ...(cidr6 ? { cidr6 } : {}),
      path: `${doc.source}: ${p}subnets[${i}].${sp}${key}`,
    };
  });
  return {
    input: v,
    name: typeof name === 'string' ? name : 'vnet',
    ...(typeof resourceGroup === 'string' ? { resourceGroup } : {}),
    addressSpaces: Array.isArray(addressSpaces) ? addressSpaces : [addressSpaces],
    subnets,
  };
}

/** A peering as a connected network: its remote VNet's address space. */
function readPeering(doc: Tracked, p: Obj, generic: string, i: number): Obj {
  const name = doc.take(p, generic, ['name']).value;
  const remote = doc.take(p, generic, ['remoteAddressSpace', 'remoteVirtualNetworkAddressSpace']);
  const { body } = bodyOf(p);
  const space = isObj(remote.value)
    ? remote.value
    : isObj(body.remoteAddressSpace)
      ? body.remoteAddressSpace
      : {};
  if (body !== p) doc.mark(`${generic}properties.remoteAddressSpace`);
  const cidrs = doc.take(space, `${generic}${remote.key}.`, ['addressPrefixes']).value;
  return { name: typeof name === 'string' ? name : `peering${i}`, kind: 'peering', cidrs: cidrs ?? [] };
}

const NOT_OVERLAY_HINT =
  'podnet plans Azure CNI Overlay: to plan the migration, set networkPluginMode to overlay (as az aks update --network-plugin-mode overlay does) with a pod CIDR that overlaps nothing';

/** Translates the documents (one cluster, its VNet, peerings) into podnet's profile format. */
export function translateAks(docs: InputDocument[]): Translation {
  const { clusters, vnets, peerings } = sortDocuments(docs);
  if (clusters.length !== 1) {
    throw conflict(
      clusters.length === 0
        ? `no cluster among ${docs.map((d) => d.source).join(', ')}: only VNets or peerings`
        : `${clusters.length} clusters among the inputs (${clusters.map((c) => c.doc.source).join(', ')}); podnet plans one`,
      'give one cluster (az aks show -o json, an ARM resource or a podnet profile) with its VNet and peerings',
    );
  }
  const origin = new Map<string, string>();
  const { doc, resource, at } = clusters[0];
  const { body, prefix } = bodyOf(resource);
  const p = `${at}${prefix}`;
  const from = (generic: string, key: string, index?: number) =>
    `${doc.source}: ${index === undefined ? generic : generic.replace(/\[\]\.$/, `[${index}].`)}${key}`;
  doc.mark(`${at}type`);
  const data: Obj = {};
  const name = doc.take(resource, at, ['name']).value;
  if (name !== undefined) {
    data.name = name;
    origin.set('name', from(at, 'name'));
  }
  const rg = doc.take(resource, at, ['resourceGroup']).value;
  if (typeof rg === 'string') data.resourceGroup = rg;

  // networkProfile
  const np = doc.take(body, p, ['networkProfile']).value;
  const network: Obj = {};
  if (isObj(np)) {
    const g = `${p}networkProfile.`;
    const field = (podnet: string, keys: string[]) => {
      const { value, key } = doc.take(np, g, keys);
      if (value === undefined || value === null) return undefined;
      network[podnet] = value;
      origin.set(`networkProfile.${podnet}`, from(g, key));
      return value;
    };
    const plugin = lower(field('networkPlugin', ['networkPlugin']));
    const mode = lower(field('networkPluginMode', ['networkPluginMode']));
    if (plugin !== undefined && (plugin !== 'azure' || mode !== 'overlay')) {
      const what =
        plugin === 'azure'
          ? 'Azure CNI node-subnet (networkPlugin azure without networkPluginMode overlay)'
          : `networkPlugin ${truncate(String(plugin), 40)}`;
      throw new PodnetError(
        'AksNotOverlay',
        `${doc.source}: the cluster uses ${what}, not Azure CNI Overlay`,
        {
          field: from(g, plugin === 'azure' ? 'networkPluginMode' : 'networkPlugin').replace(/^[^:]*: /, ''),
          hint: NOT_OVERLAY_HINT,
        },
      );
    }
    // az prints both podCidr and podCidrs; the list is the whole truth (dual-stack).
    for (const [one, many] of [
      ['podCidr', 'podCidrs'],
      ['serviceCidr', 'serviceCidrs'],
    ]) {
      const list = doc.take(np, g, [many]);
      const single = doc.take(np, g, [one]);
      // Plan findings name either spelling; both lead to the field the value was read from.
      const read = Array.isArray(list.value) && list.value.length > 0 ? many : one;
      const value = read === many ? list.value : single.value;
      if (value !== undefined && value !== null) {
        network[read] = value;
        origin.set(`networkProfile.${one}`, from(g, read));
        origin.set(`networkProfile.${many}`, from(g, read));
      }
    }
    field('dnsServiceIP', ['dnsServiceIP', 'dnsServiceIp']);
    const families = field('ipFamilies', ['ipFamilies']);
    if (Array.isArray(families)) network.ipFamilies = families.map(lower);
    field('outboundType', ['outboundType']);
  }
  data.networkProfile = network;

  // agentPoolProfiles
  const poolList = doc.take(body, p, ['agentPoolProfiles']).value;
  const g = `${p}agentPoolProfiles[].`;
  const subnetIds: { index: number; id: string; path: string }[] = [];
  data.agentPoolProfiles = (Array.isArray(poolList) ? poolList : []).map((raw, i) => {
    if (!isObj(raw)) return raw;
    const pool: Obj = {};
    const copy = (podnet: string, keys: string[]) => {
      const { value, key } = doc.take(raw, g, keys);
      if (value === undefined || value === null) return undefined;
      pool[podnet] = value;
      origin.set(`agentPoolProfiles[${i}].${podnet}`, from(g, key, i));
      return value;
    };
    copy('name', ['name']);
    copy('count', ['count']);
    copy('vmSize', ['vmSize']);
    copy('osType', ['osType']);
    copy('osSKU', ['osSKU', 'osSku']);
    copy('maxPods', ['maxPods']);
    copy('type', ['type', 'typePropertiesType']);
    // An autoscaled pool may grow to maxCount: plan for that many nodes.
    const auto = doc.take(raw, g, ['enableAutoScaling']).value;
    const max = doc.take(raw, g, ['maxCount']).value;
    doc.mark(`${g}minCount`);
    if (auto === true && max !== undefined && max !== null) {
      pool.count = max;
      origin.set(`agentPoolProfiles[${i}].count`, from(g, 'maxCount', i));
    }
    const upgrade = doc.take(raw, g, ['upgradeSettings']).value;
    if (isObj(upgrade)) {
      const surge = doc.take(upgrade, `${g}upgradeSettings.`, ['maxSurge']).value;
      if (surge !== undefined && surge !== null) {
        pool.upgradeSettings = { maxSurge: surge };
        origin.set(
          `agentPoolProfiles[${i}].upgradeSettings.maxSurge`,
          from(g, 'upgradeSettings.maxSurge', i),
        );
      }
    }
    const subnet = doc.take(raw, g, ['vnetSubnetID', 'vnetSubnetId']);
    if (typeof subnet.value === 'string')
      subnetIds.push({ index: i, id: subnet.value, path: from(g, subnet.key, i) });
    return pool;
  });
  if (Array.isArray(poolList)) origin.set('agentPoolProfiles', from(p, 'agentPoolProfiles'));

  // The VNet: the one the pools' subnets are in (or the only one given); none = the one AKS makes.
  const views = vnets.map(readVnet);
  const wanted = subnetIds.map((s) => ({ ...s, parts: subnetIdParts(s.id) }));
  for (const s of wanted) {
    if (!s.parts) {
      throw new PodnetError('AksTemplateExpression', `${s.path} is not a subnet id: ${truncate(s.id, 100)}`, {
        field: s.path.replace(/^[^:]*: /, ''),
        hint: 'a subnet id reads /subscriptions/.../resourceGroups/RG/providers/Microsoft.Network/virtualNetworks/VNET/subnets/SUBNET; give the deployed cluster (az aks show -o json)',
      });
    }
  }
  const vnetNames = [...new Set(wanted.map((s) => s.parts?.vnet.toLowerCase()))];
  if (vnetNames.length > 1) {
    throw conflict(
      `the node pools are in subnets of ${vnetNames.length} VNets (${vnetNames.join(', ')}); a podnet cluster lives in one VNet`,
      'plan each VNet as its own cluster, or move the pools into one VNet',
    );
  }
  let vnet: VnetView | undefined;
  if (wanted.length > 0) {
    const parts = wanted[0].parts as NonNullable<(typeof wanted)[0]['parts']>;
    vnet = views.find((v) => v.name.toLowerCase() === parts.vnet.toLowerCase());
    if (!vnet) {
      const rg = parts.resourceGroup ?? 'RG';
      throw new PodnetError(
        'AksVnetMissing',
        `${wanted[0].path} is a subnet of VNet "${parts.vnet}", and no input holds that VNet${views.length ? ` (given: ${views.map((v) => v.name).join(', ')})` : ''}`,
        {
          field: '--file',
          hint: `add the VNet: az network vnet show -g ${rg} -n ${parts.vnet} -o json > vnet.json, then -f vnet.json`,
        },
      );
    }
  } else if (views.length === 1) vnet = views[0];
  else if (views.length > 1) {
    throw conflict(
      `${views.length} VNets given (${views.map((v) => v.name).join(', ')}) and no node pool names its subnet`,
      'give the VNet the cluster lives in, or the pools vnetSubnetId',
    );
  }

  if (vnet) {
    const v = vnet;
    data.vnet = {
      name: v.name,
      ...(v.resourceGroup ? { resourceGroup: v.resourceGroup } : {}),
      addressSpaces: v.addressSpaces,
      subnets: v.subnets.map((s) =>
        s.cidr6 ? { name: s.name, cidrs: [s.cidr, s.cidr6] } : { name: s.name, cidr: s.cidr },
      ),
    };
    origin.set('vnet.addressSpaces', `${v.input.doc.source}: addressSpace.addressPrefixes`);
    v.subnets.forEach((s, i) => origin.set(`vnet.subnets[${i}].cidr`, s.path));
    for (const s of wanted) {
      const parts = s.parts as NonNullable<typeof s.parts>;
      const hit =
        v.subnets.find((x) => x.id !== undefined && x.id.toLowerCase() === s.id.toLowerCase()) ??
        v.subnets.find((x) => x.name.toLowerCase() === parts.subnet.toLowerCase());
      if (!hit) {
        throw new PodnetError(
          'AksSubnetNotFound',
          `${s.path} names subnet "${parts.subnet}", which VNet "${v.name}" (${v.input.doc.source}) does not have`,
          {
            field: s.path.replace(/^[^:]*: /, ''),
            hint: `its subnets: ${v.subnets.map((x) => x.name).join(', ') || 'none'}; give the VNet as az network vnet show prints it now`,
          },
        );
      }
      (data.agentPoolProfiles as Obj[])[s.index].vnetSubnetName = hit.name;
      origin.set(`agentPoolProfiles[${s.index}].vnetSubnetName`, s.path);
    }
  }

  // Connected networks: the VNet's own peerings (az network vnet show lists them) and the peering lists.
  const connected = new Map<string, Obj>();
  if (vnet) {
    const { doc: vd, vnet: raw, at: vat } = vnet.input;
    const { body: vb, prefix: vp } = bodyOf(raw);
    const list = vd.take(vb, `${vat}${vp}`, ['virtualNetworkPeerings']).value;
    if (Array.isArray(list))
      list.forEach((x, i) => {
        if (isObj(x)) {
          const c = readPeering(vd, x, `${vat}${vp}virtualNetworkPeerings[].`, i);
          connected.set(String(c.name), c);
        }
      });
  }
  for (const { doc: pd, list } of peerings) {
    list.forEach((x, i) => {
      if (!isObj(x)) return;
      const c = readPeering(pd, x, '[].', i);
      connected.set(String(c.name), c);
    });
  }
  if (connected.size > 0) {
    data.connectedNetworks = [...connected.values()];
    origin.set(
      'connectedNetworks',
      `${peerings[0]?.doc.source ?? vnet?.input.doc.source}: remoteAddressSpace`,
    );
  }

  const trackers = new Set<Tracked>([doc, ...(vnet ? [vnet.input.doc] : []), ...peerings.map((x) => x.doc)]);
  return {
    data,
    ignored: [...trackers]
      .map((t) => ({ source: t.source, fields: t.ignored() }))
      .filter((x) => x.fields.length > 0),
    origin,
  };
}
