/**
 * The world a node's service proxy section is compiled from (src/services/proxy.ts `ServiceWorld`), out of
 * what the agent watches in the cluster store: the Service objects and the pod endpoints the agents publish.
 * Pure. A value that is not a Service anyone applied is left out and reported, as policy-world.ts does.
 */
import type { PodEndpoint } from '../endpoints/record.js';
import { objectPrefix } from '../objects/types.js';
import type { ServiceWorld } from '../services/proxy.js';
import type { Service } from '../services/types.js';

export const SERVICES_PREFIX = objectPrefix('services');

export function serviceWorld(
  services: ReadonlyMap<string, string>,
  endpoints: Iterable<PodEndpoint>,
): { world: ServiceWorld; corrupt: string[] } {
  const corrupt: string[] = [];
  const list: Service[] = [];
  for (const [key, value] of services) {
    try {
      const s = JSON.parse(value) as Service;
      if (s?.kind === 'Service' && typeof s.metadata?.name === 'string') {
        list.push(s);
        continue;
      }
    } catch {}
    corrupt.push(key);
  }
  return { world: { services: list, endpoints: [...endpoints] }, corrupt };
}
