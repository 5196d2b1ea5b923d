/**
 * Which kind of input a parsed `-f` document is: podnet's own profile, or one of the shapes Azure tools print
 * (docs/aks-input.md): a managed cluster as `az aks show -o json` prints it or as an ARM/Bicep resource, an ARM
 * template holding one, a VNet as `az network vnet show -o json` prints it (or its ARM resource), and a peering
 * list as `az network vnet peering list -o json` prints it. Azure resource types are case-insensitive
 * (`az` prints `Microsoft.ContainerService/ManagedClusters`, templates write `managedClusters`).
 */
import { type Obj, isObj } from '../read.js';

export interface InputDocument {
  /** The file it came from, for messages. */
  source: string;
  data: unknown;
}

export type DocumentKind = 'podnet' | 'managedCluster' | 'armTemplate' | 'vnet' | 'peerings';

export const MANAGED_CLUSTER_TYPE = 'microsoft.containerservice/managedclusters';
export const VNET_TYPE = 'microsoft.network/virtualnetworks';
export const PEERING_TYPE = 'microsoft.network/virtualnetworks/virtualnetworkpeerings';

export const typeOf = (o: Obj): string => (typeof o.type === 'string' ? o.type.toLowerCase() : '');

const isPeering = (v: unknown) =>
  isObj(v) && (typeOf(v) === PEERING_TYPE || (isObj(v.remoteAddressSpace) && v.type === undefined));

export function kindOf(data: unknown): DocumentKind {
  if (Array.isArray(data) && data.length > 0 && data.every(isPeering)) return 'peerings';
  if (!isObj(data)) return 'podnet';
  const type = typeOf(data);
  if (type === MANAGED_CLUSTER_TYPE) return 'managedCluster';
  if (type === VNET_TYPE) return 'vnet';
  if (Array.isArray(data.resources) && (data.$schema !== undefined || data.contentVersion !== undefined))
    return 'armTemplate';
  return 'podnet';
}

/**
 * The body of a resource: `az` prints the properties at the top level next to `name` and `id`; an ARM resource
 * (a template's, `az resource show`'s, Bicep's compiled output) nests them in `properties`.
 */
export function bodyOf(resource: Obj): { body: Obj; prefix: string } {
  return isObj(resource.properties)
    ? { body: resource.properties, prefix: 'properties.' }
    : { body: resource, prefix: '' };
}
