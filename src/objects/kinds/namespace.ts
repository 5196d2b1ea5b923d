/**
 * v1 Namespace. Defaults and strategy as kube-apiserver: SetDefaults_Namespace labels every namespace with
 * `kubernetes.io/metadata.name: NAME` (pkg/apis/core/v1/defaults.go); namespaceStrategy.PrepareForCreate sets
 * `status.phase: Active` and adds the `kubernetes` finalizer (pkg/registry/core/namespace/strategy.go).
 */
import { type ObjectKind, ageColumn } from '../kind.js';
import { list, obj, opaque, str } from '../schema.js';
import type { KubeObject, Namespace } from '../types.js';

export const NAMESPACE_NAME_LABEL = 'kubernetes.io/metadata.name';

export const namespaceKind: ObjectKind = {
  apiVersion: 'v1',
  kind: 'Namespace',
  resource: 'namespaces',
  aliases: ['namespace', 'ns'],
  namespaced: false,
  nameRule: 'label',
  fields: {
    spec: obj({ finalizers: list(str) }),
    status: obj({ phase: str, ...opaque('conditions') }),
  },
  validate: () => [],
  validateUpdate: () => [],
  prepare(o: KubeObject, old: KubeObject | null): KubeObject {
    const ns = o as Namespace;
    const finalizers = ns.spec?.finalizers ?? [];
    return {
      ...ns,
      metadata: {
        ...ns.metadata,
        labels: { ...ns.metadata.labels, [NAMESPACE_NAME_LABEL]: ns.metadata.name },
      },
      spec: {
        ...ns.spec,
        finalizers: finalizers.includes('kubernetes') ? finalizers : [...finalizers, 'kubernetes'],
      },
      status: old ? old.status : { phase: 'Active' },
    };
  },
  columns: [
    { header: 'NAME', value: (o) => o.metadata.name },
    { header: 'STATUS', value: (o) => (o as Namespace).status?.phase ?? '' },
    ageColumn,
  ],
};
