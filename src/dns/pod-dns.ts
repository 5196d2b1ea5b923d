/**
 * A pod's resolver settings under dnsPolicy ClusterFirst, as kubelet writes them (reference/policy-services.md
 * C.3): the cluster DNS service IP as the only nameserver, the search path of the pod's namespace, the service
 * zone and the cluster zone, and `ndots:5` so that `NAME` and `NAME.NS` walk the search path first. Given to
 * the runtime as the CNI result's `dns` (CNI spec, "Success": nameservers, domain, search, options) and
 * rendered as a resolv.conf (resolv.conf(5)) by the lab, which plays the runtime. Pure.
 */
import { DEFAULT_ZONE } from './records.js';

/** The CNI result's `dns` object. */
export interface CniDns {
  nameservers: string[];
  search: string[];
  options: string[];
}

export function podDns(dnsServiceIp: string, namespace: string, zone = DEFAULT_ZONE): CniDns {
  return {
    nameservers: [dnsServiceIp],
    search: [`${namespace}.svc.${zone}`, `svc.${zone}`, zone],
    options: ['ndots:5'],
  };
}

/** The resolv.conf for a CNI `dns` object (nameserver lines, one `search`, one `options`). */
export function resolvConf(dns: Partial<CniDns>): string {
  return [
    ...(dns.nameservers ?? []).map((n) => `nameserver ${n}`),
    ...(dns.search?.length ? [`search ${dns.search.join(' ')}`] : []),
    ...(dns.options?.length ? [`options ${dns.options.join(' ')}`] : []),
    '',
  ].join('\n');
}
