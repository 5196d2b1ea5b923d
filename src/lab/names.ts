/**
 * Every name the lab gives a kernel object. Cluster objects are prefixed `pl-<cluster>-`, VNet objects
 * `plv-<vnet>`, so a lab never touches anything outside its own names, and two labs never collide. Link
 * names stay inside lab namespaces (never in the host's), and all stay within the kernel's 15 characters.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { PodnetError } from '../errors/index.js';

/** Root of lab state files; tmpfs, so a reboot (which also drops all namespaces) forgets labs. */
export const LAB_ROOT = process.env.PODNET_LAB_DIR ?? '/run/podnet-lab';

const NAME = /^[a-z][a-z0-9]{0,11}$/;

/** Lab and VNet names: short lower-case words, because they become part of namespace names. */
export function checkLabName(name: string, field = '--name'): string {
  if (!NAME.test(name)) {
    throw new PodnetError(
      'InvalidLabName',
      `lab name "${name}" is not a lower-case word of 1 to 12 letters/digits`,
      {
        field,
        hint: 'use e.g. --name demo or --name blue2',
      },
    );
  }
  return name;
}

export function clusterPrefix(cluster: string): string {
  return `pl-${cluster}-`;
}

/** The lab's folder; the name is checked here, so no path is ever built from an unchecked name. */
export function clusterDir(cluster: string): string {
  return join(LAB_ROOT, checkLabName(cluster));
}

export function vnetStatePath(vnet: string): string {
  return join(LAB_ROOT, `vnet-${checkLabName(vnet, '--vnet')}.json`);
}

export function nodeNetns(cluster: string, node: string): string {
  return `${clusterPrefix(cluster)}${node}`;
}

/** A pod's namespace name; pods outside `default` carry their namespace (no dots in either, so no clash). */
export function podNetns(cluster: string, pod: string, namespace = 'default'): string {
  return `${clusterPrefix(cluster)}pod-${namespace === 'default' ? pod : `${namespace}.${pod}`}`;
}

/** A node's uplink in the (shared) VNet namespace: a hash keeps it unique across clusters and short. */
export function nodeVnetLink(cluster: string, node: string): string {
  return `n${createHash('sha1').update(`${cluster}/${node}`).digest('hex').slice(0, 10)}`;
}

/** Node names follow the pool: `<pool>-<index>`, as AKS numbers scale-set instances. */
export function nodeName(pool: string, index: number): string {
  return `${pool}-${index}`;
}

export function podName(node: string, index: number): string {
  return `${node}-p${index}`;
}
