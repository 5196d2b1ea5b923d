/**
 * `checkPlan`: every planning rule over a cluster profile, plus the capacity report. Pure and fast (no I/O), so
 * `podnet plan`, `podnet cluster create/update` and `podnet lab up` all refuse a bad profile with the same
 * findings.
 */
import type { ClusterProfile } from '../profile/types.js';
import { type Capacity, capacityOf } from './capacity.js';
import { type Finding, buildContext } from './context.js';
import {
  dnsRules,
  familyRules,
  nameRules,
  podCidrRules,
  poolRules,
  serviceCidrRules,
  sizeRules,
  vnetRules,
} from './rules.js';
import { updateRules } from './update.js';

export type { Capacity, GrowthLimit, SubnetCapacity } from './capacity.js';
export type { Finding } from './context.js';
export { LIMITS } from './rules.js';

export interface PlanReport {
  valid: boolean;
  errors: Finding[];
  warnings: Finding[];
  capacity: Capacity;
}

export function checkPlan(
  profile: ClusterProfile,
  opts: { previous?: ClusterProfile; previousPodCidr?: string } = {},
): PlanReport {
  const ctx = buildContext(profile);
  for (const rule of [
    familyRules,
    podCidrRules,
    serviceCidrRules,
    dnsRules,
    vnetRules,
    nameRules,
    poolRules,
    sizeRules,
  ]) {
    rule(ctx);
  }
  if (opts.previous || opts.previousPodCidr !== undefined) updateRules(ctx, opts);
  return {
    valid: ctx.errors.length === 0,
    errors: ctx.errors,
    warnings: ctx.warnings,
    capacity: capacityOf(ctx),
  };
}
