/**
 * Rules for changing a running cluster (`podnet plan -f new.yaml --from current.yaml`): the pod CIDR may only
 * grow into a larger CIDR containing the old one (AKS's pod CIDR expansion: Linux-only clusters, IPv4, one pod
 * CIDR), never shrink or move, because nodes keep the /24 blocks they already lease. Service CIDR, DNS service IP
 * and IP families are fixed at creation.
 */
import { type Cidr, cidrEquals, cidrOf, containsCidr, formatCidr, parseCidr } from '../addr/index.js';
import type { PodnetError } from '../errors/index.js';
import type { ClusterProfile } from '../profile/types.js';
import { DNS_FIELD, type PlanContext, podCidrField } from './context.js';
import { errorAdder } from './rules.js';

export interface PreviousState {
  previous?: ClusterProfile;
  /** The pod CIDR in use now, when no whole previous profile is at hand (`--previous-pod-cidr`). */
  previousPodCidr?: string;
}

export function updateRules(ctx: PlanContext, prev: PreviousState): void {
  const err = errorAdder(ctx);
  const old = prev.previous;
  const oldPods = old
    ? old.network.podCidrs
    : prev.previousPodCidr !== undefined
      ? [prev.previousPodCidr]
      : [];
  if (old) {
    const was = old.network.ipFamilies.join(',');
    const now = ctx.profile.network.ipFamilies.join(',');
    if (was !== now) {
      err(
        'IpFamiliesImmutable',
        'networkProfile.ipFamilies',
        `IP families cannot change after creation (now ${was}, asked ${now}); create a new cluster instead`,
      );
    }
    if (old.network.serviceCidrs.join(',') !== ctx.profile.network.serviceCidrs.join(',')) {
      err(
        'ServiceCidrImmutable',
        ctx.profile.network.serviceCidrs.length === 1
          ? 'networkProfile.serviceCidr'
          : 'networkProfile.serviceCidrs',
        `the service CIDR cannot change after creation (now ${old.network.serviceCidrs.join(', ')}, asked ${ctx.profile.network.serviceCidrs.join(', ')}); keep the current value`,
      );
    }
    if (old.network.dnsServiceIp !== ctx.profile.network.dnsServiceIp) {
      err(
        'DnsServiceIpImmutable',
        DNS_FIELD,
        `the DNS service IP cannot change after creation (now ${old.network.dnsServiceIp}, asked ${ctx.profile.network.dnsServiceIp}); keep the current value`,
      );
    }
  }
  const windows = [...ctx.profile.nodePools, ...(old?.nodePools ?? [])].some((p) => p.osType === 'Windows');
  oldPods.forEach((oldText, i) => {
    let was: Cidr;
    try {
      was = parseCidr(oldText, old ? `previous ${podCidrField(old, i)}` : '--previous-pod-cidr');
    } catch (e) {
      const pe = e as PodnetError;
      err(pe.code, pe.field ?? '--previous-pod-cidr', pe.message);
      return;
    }
    const now = ctx.pods.find((p) => p.cidr.family === was.family);
    const field = now?.field ?? podCidrField(ctx.profile, i);
    if (!now) {
      err(
        'PodCidrReplaced',
        field,
        `the pod CIDR ${oldText} is no longer in the profile; it may only grow into a larger CIDR containing it`,
      );
      return;
    }
    if (cidrEquals(now.cidr, was)) return;
    if (containsCidr(now.cidr, was)) {
      if (was.family === 6) {
        err(
          'PodCidrGrowthIpv6',
          field,
          `the IPv6 pod CIDR cannot be expanded (${oldText} to ${now.text}); keep ${oldText}`,
        );
      } else if (ctx.profile.network.podCidrs.length > 1) {
        err(
          'PodCidrGrowthDualStack',
          field,
          `a dual-stack cluster's pod CIDRs cannot be expanded (${oldText} to ${now.text}); keep ${oldText}`,
        );
      }
      if (windows) {
        err(
          'PodCidrGrowthWindows',
          field,
          `the pod CIDR can be expanded only in Linux-only clusters, and this one has Windows node pools; keep ${oldText}`,
        );
      }
    } else if (containsCidr(was, now.cidr)) {
      err(
        'PodCidrShrunk',
        field,
        `the pod CIDR cannot shrink from ${oldText} to ${now.text}: nodes hold /24 blocks across the whole range. Keep ${oldText} or grow it`,
      );
    } else {
      err(
        'PodCidrReplaced',
        field,
        `the pod CIDR cannot move from ${oldText} to ${now.text}; it may only grow into a larger CIDR that contains ${oldText} (e.g. ${grownExample(was)})`,
      );
    }
  });
}

function grownExample(was: Cidr): string {
  return formatCidr(cidrOf(was.family, was.network, Math.max(0, was.prefix - 1)));
}
