/**
 * discovery.k8s.io/v1 EndpointSlice and v1 Endpoints, derived on read from the stored Services and the pod
 * endpoints the nodes publish (src/services/endpoints.ts decides; every node's proxy derives the same). They
 * are not stored and not applied: podnet has no EndpointSlice controller writing them.
 */
import { ENDPOINTS_PREFIX } from '../../endpoints/record.js';
import { applyEndpointUpdate, emptyEndpointView } from '../../endpoints/view.js';
import { endpointSlices, endpointsObject } from '../../services/endpoints.js';
import type { EndpointSlice, Service } from '../../services/types.js';
import type { VersionedStore } from '../../store/versioned.js';
import { type ObjectKind, ageColumn } from '../kind.js';
import { forbidden } from '../problems.js';
import { type KubeObject, fromStored, objectPrefix } from '../types.js';

/** The services (of one namespace, or all) and every decodable pod endpoint, read from the store. */
async function readSources(store: VersionedStore, namespace: string | undefined) {
  const [services, endpoints] = await Promise.all([
    store.list(objectPrefix('services', namespace)),
    store.list(ENDPOINTS_PREFIX),
  ]);
  const view = emptyEndpointView();
  applyEndpointUpdate(view, { type: 'snapshot', revision: endpoints.revision, items: endpoints.items });
  return {
    revision: Math.max(services.revision, endpoints.revision),
    services: services.items.map((kv) => fromStored(kv) as Service).filter((s) => s.spec.selector),
    endpoints: [...view.endpoints.values()],
  };
}

const derivedOnly = () => [
  forbidden(
    'kind',
    'podnet derives endpoints from Services and the pods they select; it does not store them',
    'apply the Service (with a selector) instead',
  ),
];

/** First three, then "+ N more...", as kubectl's printers shorten endpoint lists. */
function shortList(items: string[]): string {
  if (items.length === 0) return '<none>';
  return items.length > 3 ? `${items.slice(0, 3).join(',')} + ${items.length - 3} more...` : items.join(',');
}

const common = {
  namespaced: true,
  nameRule: 'subdomain' as const,
  fields: {},
  validate: derivedOnly,
  validateUpdate: () => [],
  prepare: (o: KubeObject) => o,
};

export const endpointSliceKind: ObjectKind = {
  ...common,
  apiVersion: 'discovery.k8s.io/v1',
  kind: 'EndpointSlice',
  resource: 'endpointslices.discovery.k8s.io',
  aliases: ['endpointslice'],
  async derive(store, namespace) {
    const { revision, services, endpoints } = await readSources(store, namespace);
    return { revision, items: services.flatMap((s) => endpointSlices(s, endpoints)) };
  },
  columns: [
    { header: 'NAME', value: (o) => o.metadata.name },
    { header: 'ADDRESSTYPE', value: (o) => (o as EndpointSlice).addressType },
    { header: 'PORTS', value: (o) => (o as EndpointSlice).ports.map((p) => p.port).join(',') || '<unset>' },
    {
      header: 'ENDPOINTS',
      value: (o) => shortList((o as EndpointSlice).endpoints.flatMap((e) => e.addresses)),
    },
    ageColumn,
  ],
};

interface EndpointsObject extends KubeObject {
  subsets: { addresses: { ip: string }[]; ports: { port: number }[] }[];
}

export const endpointsKind: ObjectKind = {
  ...common,
  apiVersion: 'v1',
  kind: 'Endpoints',
  resource: 'endpoints',
  aliases: ['ep'],
  async derive(store, namespace) {
    const { revision, services, endpoints } = await readSources(store, namespace);
    return { revision, items: services.map((s) => endpointsObject(s, endpoints) as KubeObject) };
  },
  columns: [
    { header: 'NAME', value: (o) => o.metadata.name },
    {
      header: 'ENDPOINTS',
      value: (o) =>
        shortList(
          (o as EndpointsObject).subsets.flatMap((s) =>
            s.addresses.flatMap((a) => s.ports.map((p) => `${a.ip}:${p.port}`)),
          ),
        ),
    },
    ageColumn,
  ],
};
