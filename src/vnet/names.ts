/**
 * Names of the VNet's namespaces: `plv-<vnet>` for the VNet itself, `plv-<vnet>-<host>` for the hosts beyond
 * it. Distinct from every cluster's `pl-<cluster>-` names, so a VNet shared by clusters outlives each of them.
 */

export function vnetNetns(vnet: string): string {
  return `plv-${vnet}`;
}

export function externalNetns(vnet: string, host: string): string {
  return `plv-${vnet}-${host}`;
}
