/**
 * Which address of a node's block a pod gets: pure decisions over plain data.
 *
 * Pods get offsets 1..254 of the /24 (IPv6: of the /120). The pod gateway is 169.254.1.1 on the host side
 * of each veth, so no block address is needed for a gateway or for the node. Azure's CNS enumerates all
 * 256; we skip .0 and .255 anyway: pods are /32s behind routes, so nothing breaks on them, but some stacks
 * and firewalls still treat x.y.z.0 and x.y.z.255 as network and broadcast addresses, and 254 usable
 * addresses are more than the 250 max pods a node pool may set.
 */
export const FIRST_POD_OFFSET = 1;
export const LAST_POD_OFFSET = 254;
export const USABLE_POD_ADDRESSES = LAST_POD_OFFSET - FIRST_POD_OFFSET + 1;

/**
 * The next free offset after `cursor` (the last one handed out), wrapping round once; null when none is
 * free. Round-robin means a released address is the last to be handed out again, so a late packet or a
 * stale entry for the old pod does not reach a new one.
 */
export function nextFreeOffset(isUsed: (offset: number) => boolean, cursor: number): number | null {
  const start = cursor >= FIRST_POD_OFFSET && cursor <= LAST_POD_OFFSET ? cursor : LAST_POD_OFFSET;
  for (let i = 1; i <= USABLE_POD_ADDRESSES; i++) {
    const offset = ((start - FIRST_POD_OFFSET + i) % USABLE_POD_ADDRESSES) + FIRST_POD_OFFSET;
    if (!isUsed(offset)) return offset;
  }
  return null;
}
