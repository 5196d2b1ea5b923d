/**
 * A small in-memory PodIpam for CNI tests and the CNI benchmark: the same contract as the node-local SQLite
 * allocator (repeat request → same address, MaxPodsReached past maxPods, round-robin reuse) without a file.
 */
import { formatIp, ipAt, parseCidr } from '../../addr/index.js';
import { PodnetError } from '../../errors/index.js';
import type { AllocateRequest, PodAddress, PodIpam } from '../../ipam/types.js';

export function memoryPodIpam(block: string, maxPods = 250): PodIpam {
  const cidr = parseCidr(block, 'block');
  const size = 2 ** (32 - cidr.prefix);
  const byKey = new Map<string, PodAddress>();
  const used = new Set<string>();
  let cursor = 0;
  const key = (c: string, i: string) => `${c}/${i}`;
  return {
    block,
    maxPods,
    allocate(req: AllocateRequest): PodAddress {
      const held = byKey.get(key(req.containerId, req.ifname));
      if (held) return held;
      if (byKey.size >= maxPods) {
        throw new PodnetError('MaxPodsReached', `block ${block} already serves ${maxPods} pods (max pods)`, {
          field: 'maxPods',
          hint: 'delete pods on this node or raise the node pool max pods',
        });
      }
      // .0 and the last address are skipped: some stacks treat them as network/broadcast.
      for (let n = 0; n < size - 2; n++) {
        const offset = 1 + ((cursor + n) % (size - 2));
        const ip = formatIp(ipAt(cidr, offset));
        if (used.has(ip)) continue;
        cursor = offset;
        const addr: PodAddress = { ...req, ip, block, allocatedAt: new Date().toISOString() };
        used.add(ip);
        byKey.set(key(req.containerId, req.ifname), addr);
        return addr;
      }
      throw new PodnetError('BlockExhausted', `block ${block} has no free address`, { hint: 'delete pods' });
    },
    release(containerId: string, ifname: string): PodAddress | null {
      const held = byKey.get(key(containerId, ifname)) ?? null;
      if (held) {
        byKey.delete(key(containerId, ifname));
        used.delete(held.ip);
      }
      return held;
    },
    get: (containerId, ifname) => byKey.get(key(containerId, ifname)) ?? null,
    list: () => [...byKey.values()],
    close() {},
  };
}
