/**
 * v1 Pod. The schema knows every field of core/v1 PodSpec and Container (those podnet does not read are
 * kept unchecked); validation follows ValidatePodCreate / ValidatePodUpdate of pkg/apis/core/validation for
 * the fields podnet reads; defaults follow pkg/apis/core/v1/defaults.go (SetDefaults_Pod, _PodSpec,
 * _Container) and the pod strategy's PrepareForCreate (`status.phase: Pending`).
 */
import { firstDifference } from '../json.js';
import { type Column, type ObjectKind, ageColumn, duplicates, nameProblems } from '../kind.js';
import { type FieldProblem, forbidden, invalid, invalids, notSupported, required } from '../problems.js';
import { bool, int, list, map, obj, opaque, str } from '../schema.js';
import type { Container, KubeObject, Pod, PodSpec } from '../types.js';
import { isValidPortName, isValidPortNum } from '../validation.js';

const PROTOCOLS = ['SCTP', 'TCP', 'UDP'];
const RESTART_POLICIES = ['Always', 'Never', 'OnFailure'];
const DNS_POLICIES = ['ClusterFirst', 'ClusterFirstWithHostNet', 'Default', 'None'];
const PULL_POLICIES = ['Always', 'IfNotPresent', 'Never'];
const MESSAGE_POLICIES = ['FallbackToLogsOnError', 'File'];

const containerPort = obj({ name: str, containerPort: int, protocol: str, hostPort: int, hostIP: str });

const container = obj({
  name: str,
  image: str,
  ports: list(containerPort),
  imagePullPolicy: str,
  terminationMessagePath: str,
  terminationMessagePolicy: str,
  ...opaque(
    'command',
    'args',
    'workingDir',
    'envFrom',
    'env',
    'resources',
    'resizePolicy',
    'restartPolicy',
    'volumeMounts',
    'volumeDevices',
    'livenessProbe',
    'readinessProbe',
    'startupProbe',
    'lifecycle',
    'securityContext',
    'stdin',
    'stdinOnce',
    'tty',
  ),
});

const podSpec = obj({
  containers: list(container),
  nodeName: str,
  hostNetwork: bool,
  hostname: str,
  subdomain: str,
  restartPolicy: str,
  dnsPolicy: str,
  terminationGracePeriodSeconds: int,
  activeDeadlineSeconds: int,
  schedulerName: str,
  enableServiceLinks: bool,
  nodeSelector: map(str),
  ...opaque(
    'volumes',
    'initContainers',
    'ephemeralContainers',
    'serviceAccountName',
    'serviceAccount',
    'automountServiceAccountToken',
    'hostPID',
    'hostIPC',
    'shareProcessNamespace',
    'securityContext',
    'imagePullSecrets',
    'affinity',
    'tolerations',
    'hostAliases',
    'priorityClassName',
    'priority',
    'dnsConfig',
    'readinessGates',
    'runtimeClassName',
    'preemptionPolicy',
    'overhead',
    'topologySpreadConstraints',
    'setHostnameAsFQDN',
    'os',
    'hostUsers',
    'schedulingGates',
    'resourceClaims',
    'resources',
  ),
});

const podStatus = obj({
  phase: str,
  podIP: str,
  podIPs: list(obj({ ip: str })),
  hostIP: str,
  hostIPs: list(obj({ ip: str })),
  ...opaque(
    'conditions',
    'message',
    'reason',
    'nominatedNodeName',
    'startTime',
    'initContainerStatuses',
    'containerStatuses',
    'ephemeralContainerStatuses',
    'qosClass',
    'resize',
    'resourceClaimStatuses',
  ),
});

/** SetDefaults_Container: `Always` for `:latest` or no tag (and no digest), else `IfNotPresent`. */
export function defaultPullPolicy(image: string): 'Always' | 'IfNotPresent' {
  const [ref, digest] = image.split('@');
  const lastPart = ref.slice(ref.lastIndexOf('/') + 1);
  const colon = lastPart.lastIndexOf(':');
  const tag = colon < 0 ? (digest ? '' : 'latest') : lastPart.slice(colon + 1);
  return tag === 'latest' ? 'Always' : 'IfNotPresent';
}

function defaultContainer(c: Container, hostNetwork: boolean): Container {
  return {
    ...c,
    ...(c.ports
      ? {
          ports: c.ports.map((p) => ({
            ...p,
            protocol: p.protocol ?? 'TCP',
            ...(hostNetwork && p.hostPort === undefined ? { hostPort: p.containerPort } : {}),
          })),
        }
      : {}),
    terminationMessagePath: c.terminationMessagePath ?? '/dev/termination-log',
    terminationMessagePolicy: c.terminationMessagePolicy ?? 'File',
    imagePullPolicy: c.imagePullPolicy ?? defaultPullPolicy(c.image ?? ''),
  } as Container;
}

type FullSpec = PodSpec & Record<string, unknown>;

function defaultSpec(s: FullSpec): FullSpec {
  return {
    ...s,
    containers: s.containers.map((c) => defaultContainer(c, s.hostNetwork === true)),
    restartPolicy: s.restartPolicy ?? 'Always',
    terminationGracePeriodSeconds: s.terminationGracePeriodSeconds ?? 30,
    dnsPolicy: s.dnsPolicy ?? 'ClusterFirst',
    securityContext: s.securityContext ?? {},
    schedulerName: s.schedulerName ?? 'default-scheduler',
    enableServiceLinks: s.enableServiceLinks ?? true,
  };
}

function enumProblem(field: string, value: unknown, allowed: string[]): FieldProblem[] {
  return typeof value === 'string' && !allowed.includes(value) ? [notSupported(field, value, allowed)] : [];
}

const PORT_NAME_HINT =
  "an IANA service name: at most 15 lower-case letters, digits and '-', with a letter, no '--', no '-' at either end (e.g. http)";

function validatePod(o: KubeObject): FieldProblem[] {
  const spec = o.spec as FullSpec;
  const out: FieldProblem[] = [];
  const containers = spec.containers ?? [];
  if (containers.length === 0) out.push(required('spec.containers', 'a pod needs at least one container'));
  containers.forEach((c, i) => {
    const at = `spec.containers[${i}]`;
    if (!c.name) out.push(required(`${at}.name`, 'name every container'));
    else out.push(...nameProblems(c.name, 'label', `${at}.name`));
    if (!c.image) out.push(required(`${at}.image`, 'give the container image, e.g. nginx:1.27'));
    out.push(...enumProblem(`${at}.imagePullPolicy`, c.imagePullPolicy, PULL_POLICIES));
    out.push(...enumProblem(`${at}.terminationMessagePolicy`, c.terminationMessagePolicy, MESSAGE_POLICIES));
    (c.ports ?? []).forEach((p, j) => {
      const pat = `${at}.ports[${j}]`;
      if (p.name) out.push(...invalids(`${pat}.name`, p.name, isValidPortName(p.name), PORT_NAME_HINT));
      if (p.containerPort === undefined || p.containerPort === 0)
        out.push(required(`${pat}.containerPort`, 'give the port the container listens on'));
      else
        out.push(
          ...isValidPortNum(p.containerPort).map((m) =>
            invalid(`${pat}.containerPort`, p.containerPort, m, 'use 1..65535'),
          ),
        );
      const hostPort = p.hostPort;
      if (hostPort !== undefined && hostPort !== 0)
        out.push(
          ...isValidPortNum(hostPort).map((m) => invalid(`${pat}.hostPort`, hostPort, m, 'use 1..65535')),
        );
      if (!p.protocol) out.push(required(`${pat}.protocol`, 'use TCP, UDP or SCTP'));
      else out.push(...enumProblem(`${pat}.protocol`, p.protocol, PROTOCOLS));
    });
  });
  out.push(
    ...duplicates(
      containers.map((c) => c.name),
      (i) => `spec.containers[${i}].name`,
      'give each container of the pod its own name',
    ),
  );
  // The API documents port names as unique within the pod (a Service's named targetPort must resolve to one
  // port), so podnet checks them across all containers.
  const ports = containers.flatMap((c, i) =>
    (c.ports ?? []).map((p, j) => ({ name: p.name, at: `spec.containers[${i}].ports[${j}].name` })),
  );
  out.push(
    ...duplicates(
      ports.map((p) => p.name),
      (k) => ports[k].at,
      'give each named port of the pod its own name',
    ),
  );
  out.push(...enumProblem('spec.restartPolicy', spec.restartPolicy, RESTART_POLICIES));
  out.push(...enumProblem('spec.dnsPolicy', spec.dnsPolicy, DNS_POLICIES));
  if (spec.nodeName) out.push(...nameProblems(spec.nodeName, 'subdomain', 'spec.nodeName'));
  if (spec.hostname) out.push(...nameProblems(spec.hostname, 'label', 'spec.hostname'));
  if (spec.subdomain) out.push(...nameProblems(spec.subdomain, 'label', 'spec.subdomain'));
  if (typeof spec.terminationGracePeriodSeconds === 'number' && spec.terminationGracePeriodSeconds < 0)
    out.push(
      invalid(
        'spec.terminationGracePeriodSeconds',
        spec.terminationGracePeriodSeconds,
        'must be greater than or equal to 0',
        'use 0 or more seconds',
      ),
    );
  return out;
}

const UPDATABLE =
  'spec.containers[*].image, spec.activeDeadlineSeconds and spec.nodeName while it is unset (the binding a scheduler makes)';

/**
 * ValidatePodUpdate: a pod's spec is fixed once created, except container images and the active deadline;
 * podnet has no scheduler, so setting spec.nodeName on a pod that has none stands for the binding subresource.
 * The first field that differs otherwise is named.
 */
function validatePodUpdate(next: KubeObject, old: KubeObject): FieldProblem[] {
  const n = next.spec as FullSpec;
  const o = old.spec as FullSpec;
  const sameShape = n.containers.length === o.containers.length;
  const munged: FullSpec = {
    ...n,
    containers: sameShape
      ? n.containers.map((c, i) => ({
          ...c,
          image: o.containers[i].image,
          imagePullPolicy: o.containers[i].imagePullPolicy,
        }))
      : n.containers,
    activeDeadlineSeconds: o.activeDeadlineSeconds,
    nodeName: o.nodeName === undefined ? undefined : n.nodeName,
  };
  // Through JSON, so that a field set to undefined compares equal to one that is absent.
  const path = firstDifference(JSON.parse(JSON.stringify(munged)), JSON.parse(JSON.stringify(o)), 'spec');
  if (path === undefined) return [];
  return [
    forbidden(
      path,
      `pod updates may not change fields other than ${UPDATABLE}`,
      'delete the pod and create it again to change this',
    ),
  ];
}

interface ContainerStatus {
  ready?: boolean;
  restartCount?: number;
}

const statuses = (o: KubeObject) =>
  ((o.status as Record<string, unknown> | undefined)?.containerStatuses as ContainerStatus[] | undefined) ??
  [];

const columns: Column[] = [
  { header: 'NAME', value: (o) => o.metadata.name },
  {
    header: 'READY',
    value: (o) => `${statuses(o).filter((s) => s.ready).length}/${(o as Pod).spec.containers.length}`,
  },
  { header: 'STATUS', value: (o) => (o as Pod).status?.phase ?? 'Unknown' },
  { header: 'RESTARTS', value: (o) => String(statuses(o).reduce((n, s) => n + (s.restartCount ?? 0), 0)) },
  ageColumn,
  { header: 'IP', wide: true, value: (o) => (o as Pod).status?.podIP ?? '<none>' },
  { header: 'NODE', wide: true, value: (o) => (o as Pod).spec.nodeName ?? '<none>' },
];

export const podKind: ObjectKind = {
  apiVersion: 'v1',
  kind: 'Pod',
  resource: 'pods',
  aliases: ['pod', 'po'],
  namespaced: true,
  nameRule: 'subdomain',
  fields: { spec: podSpec, status: podStatus },
  validate: validatePod,
  validateUpdate: validatePodUpdate,
  prepare(o: KubeObject, old: KubeObject | null): KubeObject {
    const spec = (o.spec ?? { containers: [] }) as FullSpec;
    return {
      ...o,
      spec: defaultSpec({ ...spec, containers: spec.containers ?? [] }),
      status: old ? old.status : { phase: 'Pending' },
    };
  },
  columns,
};
