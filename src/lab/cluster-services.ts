/**
 * The Services every cluster has, which the lab puts in its store at `up`:
 *
 * - `kube-dns` in `kube-system`, as AKS's addon manager makes it: ClusterIP, which the allocator gives the
 *   profile's `dnsServiceIP`, ports `dns` 53/UDP and `dns-tcp` 53/TCP, selecting `k8s-app: kube-dns`. No pod
 *   carries that label: every node's agent answers the DNS service IP itself (src/agent/dns.ts), so its
 *   endpoints are empty, and the name and its SRV records resolve as on AKS.
 * - `kubernetes` in `default`, as the API server makes it: the service CIDR's first address (the allocator
 *   reserves it for this name), port `https` 443, no selector. podnet runs no API server, so it has no
 *   endpoints and a connection to it is refused; `kubernetes.default` resolves as pods expect.
 */
import { decodeManifest } from '../objects/decode.js';
import { applyDocuments } from '../objects/store.js';
import type { VersionedStore } from '../store/versioned.js';

const KUBE_DNS = {
  apiVersion: 'v1',
  kind: 'Service',
  metadata: {
    name: 'kube-dns',
    namespace: 'kube-system',
    labels: {
      'k8s-app': 'kube-dns',
      'kubernetes.io/cluster-service': 'true',
      'kubernetes.io/name': 'CoreDNS',
    },
  },
  spec: {
    selector: { 'k8s-app': 'kube-dns' },
    ports: [
      { name: 'dns', port: 53, protocol: 'UDP', targetPort: 53 },
      { name: 'dns-tcp', port: 53, protocol: 'TCP', targetPort: 53 },
    ],
  },
};

const KUBERNETES = {
  apiVersion: 'v1',
  kind: 'Service',
  metadata: {
    name: 'kubernetes',
    namespace: 'default',
    labels: { component: 'apiserver', provider: 'kubernetes' },
  },
  spec: { ports: [{ name: 'https', port: 443, protocol: 'TCP', targetPort: 6443 }] },
};

export async function applyClusterServices(objects: VersionedStore): Promise<void> {
  await applyDocuments(objects, decodeManifest(JSON.stringify([KUBERNETES, KUBE_DNS]), 'cluster-services'));
}
