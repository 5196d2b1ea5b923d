/**
 * The `kube-dns` Service the lab puts in `kube-system` at `up`, as AKS's addon manager does: ClusterIP, which
 * the allocator gives the profile's `dnsServiceIP`, ports `dns` 53/UDP and `dns-tcp` 53/TCP, selecting
 * `k8s-app: kube-dns`. No pod carries that label: every node's agent answers the DNS service IP itself
 * (src/agent/dns.ts), so its endpoints are empty, and the name and its SRV records resolve as on AKS.
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

export async function applyKubeDns(objects: VersionedStore): Promise<void> {
  await applyDocuments(objects, decodeManifest(JSON.stringify(KUBE_DNS), 'kube-dns'));
}
