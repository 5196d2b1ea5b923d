/**
 * ValidateService and ValidateServiceUpdate of pkg/apis/core/validation/validation.go, on the defaulted object,
 * with the API server's field paths and messages. The allocation errors (an address outside the service CIDR or
 * already taken) come from the allocator (allocate.ts), as they come from the registry in the API server.
 */
import { parseIp } from '../addr/index.js';
import { nameProblems } from '../objects/kind.js';
import {
  type FieldProblem,
  duplicate,
  forbidden,
  invalid,
  invalids,
  notSupported,
  required,
} from '../objects/problems.js';
import {
  isQualifiedName,
  isValidLabelValue,
  isValidPortName,
  isValidPortNum,
} from '../objects/validation.js';
import { parseLooseCidr } from '../policy/validate.js';
import {
  CLUSTER_IP_NONE,
  KUBELET_PORT,
  MAX_AFFINITY_SECONDS,
  type Service,
  type ServicePort,
  type ServiceSpec,
  externallyAccessible,
  isHeadless,
  needsHealthCheck,
} from './types.js';

const TYPES = ['ClusterIP', 'ExternalName', 'LoadBalancer', 'NodePort'];
const PROTOCOLS = ['SCTP', 'TCP', 'UDP'];
const AFFINITIES = ['ClientIP', 'None'];
const TRAFFIC_POLICIES = ['Cluster', 'Local'];
const FAMILIES = ['IPv4', 'IPv6'];
const FAMILY_POLICIES = ['PreferDualStack', 'RequireDualStack', 'SingleStack'];

const familyOf = (ip: string): 4 | 6 | null => {
  try {
    return parseIp(ip).family;
  } catch {
    return null;
  }
};

function validatePort(p: ServicePort, requireName: boolean, names: Set<string>, at: string): FieldProblem[] {
  const out: FieldProblem[] = [];
  if (requireName && !p.name)
    out.push(required(`${at}.name`, 'a service with several ports must name each of them'));
  else if (p.name) {
    out.push(...nameProblems(p.name, 'label', `${at}.name`));
    if (names.has(p.name)) out.push(duplicate(`${at}.name`, p.name, 'give each port its own name'));
    names.add(p.name);
  }
  out.push(...invalids(`${at}.port`, String(p.port), isValidPortNum(p.port), 'use a port 1-65535'));
  if (!p.protocol) out.push(required(`${at}.protocol`, 'use TCP, UDP or SCTP'));
  else if (!PROTOCOLS.includes(p.protocol)) out.push(notSupported(`${at}.protocol`, p.protocol, PROTOCOLS));
  // ValidatePortNumOrName
  const t = p.targetPort;
  if (typeof t === 'number')
    out.push(
      ...isValidPortNum(t).map((m) =>
        invalid(`${at}.targetPort`, t, m, 'a container port number 1-65535 or a port name'),
      ),
    );
  else if (typeof t === 'string')
    out.push(...invalids(`${at}.targetPort`, t, isValidPortName(t), 'a container port name, e.g. http'));
  else out.push(invalid(`${at}.targetPort`, t, 'must be a number or a port name', 'e.g. 8080 or http'));
  if (p.appProtocol !== undefined)
    out.push(...invalids(`${at}.appProtocol`, p.appProtocol, isQualifiedName(p.appProtocol), 'e.g. http'));
  return out;
}

/** ValidateServiceClusterIPsRelatedFields. */
function validateClusterIps(s: ServiceSpec): FieldProblem[] {
  const out: FieldProblem[] = [];
  const ips = s.clusterIPs ?? [];
  const hint = 'leave clusterIP out to get one allocated, or give an address of the service CIDR';
  if (s.clusterIP) {
    if (ips.length === 0) out.push(required('spec.clusterIPs', hint));
    else if (ips[0] !== s.clusterIP)
      out.push(invalid('spec.clusterIPs', ips, 'first value must match `clusterIP`', hint));
  } else if (ips.length !== 0) {
    out.push(invalid('spec.clusterIPs', ips, 'must be empty when `clusterIP` is not specified', hint));
  }
  const seen = new Set<string>();
  (s.ipFamilies ?? []).forEach((f, i) => {
    if (!FAMILIES.includes(f)) out.push(notSupported(`spec.ipFamilies[${i}]`, f, FAMILIES));
    if (seen.has(f)) out.push(duplicate(`spec.ipFamilies[${i}]`, f, 'name each family once'));
    seen.add(f);
  });
  if (s.ipFamilyPolicy !== undefined && !FAMILY_POLICIES.includes(s.ipFamilyPolicy))
    out.push(notSupported('spec.ipFamilyPolicy', s.ipFamilyPolicy, FAMILY_POLICIES));
  let bad = false;
  ips.forEach((ip, i) => {
    if (i === 0 && ip === CLUSTER_IP_NONE) {
      if (ips.length > 1)
        out.push(invalid('spec.clusterIPs', ips, "'None' must be the first and only value", hint));
      return;
    }
    if (familyOf(ip) === null) {
      bad = true;
      out.push(
        invalid(
          `spec.clusterIPs[${i}]`,
          ip,
          'must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)',
          hint,
        ),
      );
    }
  });
  if (ips.length > 2) out.push(invalid('spec.clusterIPs', ips, 'may only hold up to 2 values', hint));
  if (bad) return out;
  if (ips.length > 1 && familyOf(ips[0]) === familyOf(ips[1]))
    out.push(invalid('spec.clusterIPs', ips, 'may specify no more than one IP for each IP family', hint));
  if (!isHeadless(s)) {
    ips.forEach((ip, i) => {
      const want = s.ipFamilies?.[i];
      if (want === 'IPv4' && familyOf(ip) === 6)
        out.push(
          invalid(
            `spec.clusterIPs[${i}]`,
            ip,
            `expected an IPv4 value as indicated by \`ipFamilies[${i}]\``,
            hint,
          ),
        );
      if (want === 'IPv6' && familyOf(ip) === 4)
        out.push(
          invalid(
            `spec.clusterIPs[${i}]`,
            ip,
            `expected an IPv6 value as indicated by \`ipFamilies[${i}]\``,
            hint,
          ),
        );
    });
  }
  return out;
}

/** ValidateService on a defaulted Service (metadata is checked by the common rules). */
export function validateService(svc: Service): FieldProblem[] {
  const s = svc.spec ?? {};
  const out: FieldProblem[] = [];
  const ports = s.ports ?? [];
  if (ports.length === 0 && !isHeadless(s) && s.type !== 'ExternalName')
    out.push(required('spec.ports', 'give the service at least one port'));
  if (s.type === 'LoadBalancer' || s.type === 'NodePort') {
    if (isHeadless(s))
      out.push(
        invalid(
          'spec.clusterIPs[0]',
          CLUSTER_IP_NONE,
          `may not be set to 'None' for ${s.type} services`,
          'remove clusterIP: None, or use type ClusterIP for a headless service',
        ),
      );
  }
  if (s.type === 'LoadBalancer') {
    ports.forEach((p, i) => {
      if (p.port === KUBELET_PORT)
        out.push(
          invalid(
            `spec.ports[${i}]`,
            p.port,
            `may not expose port ${KUBELET_PORT} externally since it is used by kubelet`,
            'use another port',
          ),
        );
    });
  }
  if (s.type === 'ExternalName') {
    if ((s.clusterIPs ?? []).length > 0)
      out.push(forbidden('spec.clusterIPs', 'may not be set for ExternalName services', 'remove clusterIP'));
    if (s.ipFamilies !== undefined)
      out.push(forbidden('spec.ipFamilies', 'may not be set for ExternalName services', 'remove ipFamilies'));
    if (s.ipFamilyPolicy !== undefined)
      out.push(forbidden('spec.ipFamilyPolicy', 'may not be set for ExternalName services', 'remove it'));
    const cname = (s.externalName ?? '').replace(/\.$/, '');
    if (cname) out.push(...nameProblems(cname, 'subdomain', 'spec.externalName'));
    else out.push(required('spec.externalName', 'name the DNS name the service stands for'));
  }
  const names = new Set<string>();
  ports.forEach((p, i) => {
    out.push(...validatePort(p, ports.length > 1, names, `spec.ports[${i}]`));
  });
  for (const [k, v] of Object.entries(s.selector ?? {})) {
    out.push(...invalids('spec.selector', k, isQualifiedName(k), 'a label key, e.g. app'));
    out.push(...invalids('spec.selector', v, isValidLabelValue(v), 'a label value, e.g. web'));
  }
  if (!s.sessionAffinity) out.push(required('spec.sessionAffinity', 'use None or ClientIP'));
  else if (!AFFINITIES.includes(s.sessionAffinity))
    out.push(notSupported('spec.sessionAffinity', s.sessionAffinity, AFFINITIES));
  if (s.sessionAffinity === 'ClientIP') {
    const t = s.sessionAffinityConfig?.clientIP?.timeoutSeconds;
    if (t === undefined)
      out.push(required('spec.sessionAffinityConfig.clientIP.timeoutSeconds', 'e.g. 10800 (3 hours)'));
    else if (t <= 0 || t > MAX_AFFINITY_SECONDS)
      out.push(
        invalid(
          'spec.sessionAffinityConfig.clientIP.timeoutSeconds',
          t,
          `must be greater than 0 and less than ${MAX_AFFINITY_SECONDS}`,
          'e.g. 10800 (3 hours)',
        ),
      );
  } else if (s.sessionAffinity === 'None' && s.sessionAffinityConfig !== undefined) {
    out.push(
      forbidden(
        'spec.sessionAffinityConfig',
        'must not be set when session affinity is None',
        'remove sessionAffinityConfig, or set sessionAffinity: ClientIP',
      ),
    );
  }
  out.push(...validateClusterIps(s));
  (s.externalIPs ?? []).forEach((ip, i) => {
    if (familyOf(ip) === null)
      out.push(
        invalid(
          `spec.externalIPs[${i}]`,
          ip,
          'must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)',
          'an address',
        ),
      );
  });
  if (!s.type) out.push(required('spec.type', 'use ClusterIP, NodePort, LoadBalancer or ExternalName'));
  else if (!TYPES.includes(s.type)) out.push(notSupported('spec.type', s.type, TYPES));
  if (s.type === 'ClusterIP') {
    ports.forEach((p, i) => {
      if (p.nodePort)
        out.push(
          forbidden(
            `spec.ports[${i}].nodePort`,
            "may not be used when `type` is 'ClusterIP'",
            'remove nodePort',
          ),
        );
    });
  }
  const nodePorts = new Set<string>();
  const portKeys = new Set<string>();
  ports.forEach((p, i) => {
    if (p.nodePort) {
      const k = `${p.protocol}/${p.nodePort}`;
      if (nodePorts.has(k))
        out.push(duplicate(`spec.ports[${i}].nodePort`, p.nodePort, 'give each port its own node port'));
      nodePorts.add(k);
    }
    const k = `${p.protocol}/${p.port}`;
    if (portKeys.has(k))
      out.push(
        duplicate(
          `spec.ports[${i}]`,
          `{${p.protocol} ${p.port}}`,
          'each protocol and port pair once per service',
        ),
      );
    portKeys.add(k);
  });
  const ranges = s.loadBalancerSourceRanges ?? [];
  if (ranges.length > 0) {
    if (s.type !== 'LoadBalancer')
      out.push(
        forbidden(
          'spec.LoadBalancerSourceRanges',
          "may only be used when `type` is 'LoadBalancer'",
          'remove loadBalancerSourceRanges',
        ),
      );
    ranges.forEach((r, i) => {
      if (!parseLooseCidr(r.trim()))
        out.push(
          invalid(
            `spec.LoadBalancerSourceRanges[${i}]`,
            r,
            'must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)',
            'a CIDR, e.g. 203.0.113.0/24',
          ),
        );
    });
  }
  // validateServiceExternalTrafficPolicy
  if (!externallyAccessible(s)) {
    if (s.externalTrafficPolicy !== undefined)
      out.push(
        invalid(
          'spec.externalTrafficPolicy',
          s.externalTrafficPolicy,
          'may only be set for externally-accessible services',
          'remove it, or use type LoadBalancer',
        ),
      );
  } else if (!s.externalTrafficPolicy) {
    out.push(required('spec.externalTrafficPolicy', 'use Cluster or Local'));
  } else if (!TRAFFIC_POLICIES.includes(s.externalTrafficPolicy)) {
    out.push(notSupported('spec.externalTrafficPolicy', s.externalTrafficPolicy, TRAFFIC_POLICIES));
  }
  if (!needsHealthCheck(s) && s.healthCheckNodePort)
    out.push(
      invalid(
        'spec.healthCheckNodePort',
        s.healthCheckNodePort,
        "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'",
        'remove healthCheckNodePort',
      ),
    );
  // validateServiceInternalTrafficFieldsValue
  if (s.internalTrafficPolicy === undefined) {
    if (s.type === 'NodePort' || s.type === 'LoadBalancer' || s.type === 'ClusterIP')
      out.push(required('spec.internalTrafficPolicy', 'use Cluster or Local'));
  } else if (!TRAFFIC_POLICIES.includes(s.internalTrafficPolicy)) {
    out.push(notSupported('spec.internalTrafficPolicy', s.internalTrafficPolicy, TRAFFIC_POLICIES));
  }
  return out;
}

/**
 * ValidateServiceUpdate: a second family may be added (upgrade) or released (downgrade, which needs
 * ipFamilyPolicy SingleStack), and nothing else of clusterIPs and ipFamilies may change, unless the type
 * changes to or from ExternalName (validateUpgradeDowngradeClusterIPs, validateUpgradeDowngradeIPFamilies).
 */
export function validateServiceUpdate(next: Service, old: Service): FieldProblem[] {
  return [
    ...upgradeDowngradeClusterIps(old.spec, next.spec),
    ...upgradeDowngradeIpFamilies(old.spec, next.spec),
    ...validateService(next),
  ];
}

const UNCHANGED = 'keep the addresses and families the service has; add or release only the second one';

function upgradeDowngradeClusterIps(old: ServiceSpec, s: ServiceSpec): FieldProblem[] {
  if (s.type === 'ExternalName' || old.type === 'ExternalName') return [];
  if (isHeadless(old) && isHeadless(s)) return [];
  const [a, b] = [old.clusterIPs ?? [], s.clusterIPs ?? []];
  const out: FieldProblem[] = [];
  const changed = (i: number) => invalid(`spec.clusterIPs[${i}]`, b, 'may not change once set', UNCHANGED);
  if (a.length === b.length) {
    a.forEach((ip, i) => {
      if (ip !== b[i]) out.push(changed(i));
    });
  } else if (a.length > b.length) {
    if (b.length === 0)
      out.push(invalid('spec.clusterIPs[0]', b, 'primary clusterIP can not be unset', UNCHANGED));
    if (a.length > 0 && b.length > 0 && b[0] !== a[0]) out.push(changed(0));
    if (b.length === 1 && s.ipFamilyPolicy !== 'SingleStack')
      out.push(
        invalid(
          'spec.ipFamilyPolicy',
          s.ipFamilyPolicy ?? null,
          "must be set to 'SingleStack' when releasing the secondary clusterIP",
          'set ipFamilyPolicy: SingleStack to release it',
        ),
      );
  } else if (a.length > 0 && b[0] !== a[0]) out.push(changed(0));
  return out;
}

function upgradeDowngradeIpFamilies(old: ServiceSpec, s: ServiceSpec): FieldProblem[] {
  if (s.type === 'ExternalName' || old.type === 'ExternalName') return [];
  if (isHeadless(old) || isHeadless(s)) return [];
  const [a, b] = [old.ipFamilies ?? [], s.ipFamilies ?? []];
  const out: FieldProblem[] = [];
  const changed = () => invalid('spec.ipFamilies[0]', b, 'may not change once set', UNCHANGED);
  if (a.length === b.length) {
    a.forEach((f, i) => {
      if (f !== b[i]) out.push(changed());
    });
  } else if (a.length > b.length) {
    if ((s.clusterIPs ?? []).length === 0)
      out.push(invalid('spec.ipFamilies[0]', b, 'primary ipFamily can not be unset', UNCHANGED));
    if (b.length > 0 && b[0] !== a[0]) out.push(changed());
    if (b.length === 1 && s.ipFamilyPolicy !== 'SingleStack')
      out.push(
        invalid(
          'spec.ipFamilyPolicy',
          s.ipFamilyPolicy ?? null,
          "must be set to 'SingleStack' when releasing the secondary ipFamily",
          'set ipFamilyPolicy: SingleStack to release it',
        ),
      );
  } else if (a.length > 0 && b.length > 0 && b[0] !== a[0]) out.push(changed());
  return out;
}
