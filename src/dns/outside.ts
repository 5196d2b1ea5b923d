/**
 * The names of the lab's outside world, served by the resolver on its internet host (the upstream the nodes'
 * cluster DNS relays every non-cluster name to): `www.example.test` is the internet host, `<host>.example.test`
 * each host beyond the VNet by its name (`internet`, connected networks). `.test` is reserved for testing (RFC
 * 6761 §6.2), so no real name is ever shadowed. It stands for the internet's resolvers, so every other name
 * does not exist (NXDOMAIN, as `nope.` gets from a real one; REFUSED would make glibc report a temporary
 * failure and retry). Pure: the hosts in, the answer out.
 */
import { parseIp } from '../addr/index.js';
import { type Resolution, TTL } from './records.js';

export const OUTSIDE_ZONE = 'example.test';

export interface OutsideHost {
  name: string;
  kind: 'internet' | 'connected';
  ip: string;
}

/** The records of the outside zone: an A (or AAAA) per host name, `www` for the internet host. */
export function outsideRecords(
  hosts: readonly OutsideHost[],
  zone = OUTSIDE_ZONE,
): (qname: string, qtype: string) => Resolution {
  const byName = new Map<string, string>();
  for (const h of hosts) {
    byName.set(`${h.name}.${zone}`.toLowerCase(), h.ip);
    if (h.kind === 'internet') byName.set(`www.${zone}`, h.ip);
  }
  return (qname, qtype) => {
    const name = qname.toLowerCase().replace(/\.$/, '');
    if (name === zone) return { kind: 'answer', rcode: 'NOERROR', answers: [] };
    const ip = byName.get(name);
    if (ip === undefined) return { kind: 'answer', rcode: 'NXDOMAIN', answers: [] };
    const type = parseIp(ip).family === 4 ? 'A' : 'AAAA';
    return {
      kind: 'answer',
      rcode: 'NOERROR',
      answers: qtype === type || qtype === 'ANY' ? [{ type, name, ttl: TTL, data: ip }] : [],
    };
  };
}
