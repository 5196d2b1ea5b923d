/**
 * Every code podnet reports, in one table: the errors it throws, the findings of `podnet plan` and
 * `podnet ipam check`, with the exit class a command ends with, the cause, what to do, and where it is documented.
 * `PodnetError` only takes a code of this table (tsc refuses any other), `exitCodeFor` reads the exit class
 * here, and `docs/errors.md` is generated from it (`node scripts/gen-errors-doc.mjs`; a test fails when the page
 * is stale, when a code is thrown but not listed, or when a listed code is no longer produced).
 *
 * Codes are stable: scripts match on them. A code is never renamed and never reused for another meaning; a code
 * that is no longer produced is removed, and its name stays retired. Adding a code is one line here, then
 * `node scripts/gen-errors-doc.mjs`.
 */

/** How a command ends when it meets the code (`podnet --help` documents the numbers). */
export const EXIT = {
  ok: 0,
  /** The command ran and found problems (invalid plan, failed check), or failed doing what it was asked. */
  problems: 1,
  /** Unusable input: bad flag, unreadable or malformed file. */
  usage: 2,
  /** The store or the agent could not be reached, or was too busy: retrying later may succeed. */
  unreachable: 3,
} as const;

export type ExitClass = keyof typeof EXIT;

/** The sections of `docs/errors.md`, in order, each with the component page that explains its codes. */
export const AREAS = {
  input: { title: 'Unusable input: profiles, flags, addresses', page: 'plan.md#the-profile-format' },
  plan: {
    title: 'Plan errors (`podnet plan`, `cluster create/update`, `lab up`)',
    page: 'plan.md#design-decisions',
  },
  planUpdate: {
    title: 'Plan update errors (`--from`, `--previous-pod-cidr`)',
    page: 'plan.md#design-decisions',
  },
  planWarning: { title: 'Plan warnings (exit 0 when there are no errors)', page: 'plan.md#design-decisions' },
  store: { title: 'Cluster store, block leases and pod addresses', page: 'ipam.md#error-codes' },
  ipamCheck: {
    title: '`podnet ipam check` findings',
    page: 'ipam.md#podnet-ipam-check-does-a-node-agree-with-itself-and-with-the-store',
  },
  agent: { title: 'Node agent', page: 'agent.md#error-codes' },
  kernel: { title: 'Kernel tools (`ip`, `nft`, `nsenter`)', page: 'agent.md#error-codes' },
  cni: { title: 'CNI plugin and pod plumbing', page: 'cni.md#error-codes' },
  lab: { title: 'Lab', page: 'lab.md#error-codes' },
  objects: { title: 'Cluster objects (`podnet apply`, `get`, `delete`)', page: 'objects.md#error-codes' },
  trace: { title: '`podnet trace`, NSGs', page: 'trace.md#error-codes' },
  cli: { title: 'Any command', page: null },
} as const;

export type Area = keyof typeof AREAS;

export interface CatalogueEntry {
  area: Area;
  exit: ExitClass;
  /** The field (or fields) to change, when the code always names the same ones; else the error's `field` says. */
  field?: string;
  /** What happened, in one line. */
  cause: string;
  /** What to do about it. */
  fix: string;
}

// biome-ignore format: one line per code, so adding a code is a one-line change that merges cleanly
export const CATALOGUE = {
  ProfileUnreadable: { area: 'input', exit: 'usage', field: '--file', cause: 'The profile file does not exist, is a directory, or cannot be read.', fix: 'Give the path of a YAML/JSON profile; `-f -` reads stdin.' },
  ProfileEmpty: { area: 'input', exit: 'usage', field: '--file', cause: 'The profile file is empty or holds only comments.', fix: 'Write a profile; start from `examples/basic.yaml`.' },
  ProfileTooLarge: { area: 'input', exit: 'usage', field: '--file', cause: 'The profile file is over 1 MiB (checked before reading).', fix: 'Check the path; real profiles are a few KiB.' },
  MalformedProfile: { area: 'input', exit: 'usage', field: '--file', cause: 'Not valid YAML/JSON (the message gives the line and column), duplicate keys, several documents, a YAML alias bomb (over 100 aliases), or nesting deeper than any real profile (over 64 flow levels or a 256-character indentation prefix).', fix: 'Fix the syntax at the place named.' },
  InvalidProfile: { area: 'input', exit: 'usage', cause: 'Unknown field (with the likely intended one), wrong type, value out of shape bounds, missing required field (`agentPoolProfiles`, pool `name`, `vnetSubnetName` when the VNet has several subnets), `podCidr` and `podCidrs` both given.', fix: 'Change the field named in `field`.' },
  InvalidCidr: { area: 'input', exit: 'usage', cause: 'A CIDR that does not parse (missing or bad prefix, bad address). As a plan finding: only for profiles built in code (the loader refuses these first).', fix: 'Write `address/prefix`, e.g. `10.244.0.0/16`.' },
  CidrHostBitsSet: { area: 'input', exit: 'usage', cause: 'A CIDR with host bits set; the message and `details.aligned` give the network.', fix: 'Write the aligned form, or a longer prefix if a smaller range was meant.' },
  InvalidIpAddress: { area: 'input', exit: 'usage', cause: 'An IP that does not parse (octets > 255, leading zeros, bad IPv6 groups, zone ids). As a plan finding: only for profiles built in code.', fix: 'Write `10.0.0.10` or `fd00::10`.' },
  InvalidFlag: { area: 'input', exit: 'usage', cause: 'A quick-plan flag value of the wrong shape (`--node-count many`, `--node-subnet =10.0.0.0/24`).', fix: 'See `podnet plan --help`.' },
  UnknownFlag: { area: 'input', exit: 'usage', cause: 'An unknown flag (commander\'s "unknown option"; the hint carries its suggestion of the nearest flag).', fix: 'See `podnet COMMAND --help`.' },
  UnknownCommand: { area: 'input', exit: 'usage', cause: 'An unknown command (commander\'s "unknown command"; the hint carries its suggestion when there is a near one).', fix: 'See `podnet --help`.' },
  UsageError: { area: 'input', exit: 'usage', cause: 'A required flag missing, flags that exclude each other (`-f` with quick-plan flags, `--from` without `-f` or with `--previous-pod-cidr`, `--metrics-socket` with `--metrics-port`), a stray argument, `-o` other than table/json.', fix: 'Use one form; the hint shows it.' },
  PodCidrOverlapsVnet: { area: 'plan', exit: 'problems', field: 'networkProfile.podCidr', cause: 'The pod CIDR overlaps a VNet address space (AKS: `NetworkProfileCIDROverlapVNET`).', fix: 'Choose a pod CIDR outside the VNet.' },
  PodCidrOverlapsSubnet: { area: 'plan', exit: 'problems', field: 'networkProfile.podCidr', cause: 'The pod CIDR overlaps a node subnet (reported when that subnet is not already covered by a VNet overlap).', fix: 'Choose a pod CIDR outside every node subnet.' },
  PodCidrOverlapsServiceCidr: { area: 'plan', exit: 'problems', field: 'networkProfile.podCidr', cause: 'Pod and service CIDRs overlap.', fix: 'Make them distinct ranges.' },
  PodCidrOverlapsConnectedNetwork: { area: 'plan', exit: 'problems', field: 'networkProfile.podCidr', cause: 'The pod CIDR overlaps a peered, ExpressRoute or VPN network: traffic to those hosts would be captured by the overlay.', fix: 'Choose a range no connected network uses.' },
  PodCidrOverlapsReservedRange: { area: 'plan', exit: 'problems', field: 'networkProfile.podCidr', cause: 'Overlaps 169.254.0.0/16, 172.30.0.0/16, 172.31.0.0/16 or 192.0.2.0/24 (so 172.16.0.0/12 is refused too).', fix: 'Choose another private range.' },
  PodCidrSpecialRange: { area: 'plan', exit: 'problems', field: 'networkProfile.podCidr', cause: 'Loopback, multicast, documentation or other special space.', fix: 'Use RFC 1918 / RFC 6598 / ULA space.' },
  PodCidrTooSmall: { area: 'plan', exit: 'problems', field: 'networkProfile.podCidr', cause: 'Fewer /24 blocks than nodes (or smaller than one /24). The message gives the prefix that fits.', fix: 'Use the prefix named, or larger.' },
  ServiceCidrTooLarge: { area: 'plan', exit: 'problems', field: 'networkProfile.serviceCidr', cause: 'IPv4 prefix /12 or shorter (AKS: "smaller than /12"; see the design decisions in docs/plan.md), or IPv6 larger than /108.', fix: 'Use /13 or longer (IPv6: /108 or longer).' },
  ServiceCidrOverlapsSubnet: { area: 'plan', exit: 'problems', field: 'networkProfile.serviceCidr', cause: 'The service CIDR overlaps a node subnet (AKS: `ServiceCidrOverlapExistingSubnetsCidr`).', fix: 'Choose a service CIDR outside the VNet.' },
  ServiceCidrOverlapsReservedRange: { area: 'plan', exit: 'problems', field: 'networkProfile.serviceCidr', cause: 'Overlaps a range AKS reserves.', fix: 'Choose e.g. 10.0.0.0/16.' },
  ServiceCidrSpecialRange: { area: 'plan', exit: 'problems', field: 'networkProfile.serviceCidr', cause: 'Loopback, multicast or documentation space.', fix: 'Choose a private range.' },
  DnsServiceIpOutsideServiceCidr: { area: 'plan', exit: 'problems', field: 'networkProfile.dnsServiceIP', cause: 'The DNS service IP is not inside the service CIDR.', fix: 'Use an address inside it (the message suggests the 10th).' },
  DnsServiceIpReserved: { area: 'plan', exit: 'problems', field: 'networkProfile.dnsServiceIP', cause: 'The DNS IP is the service CIDR\'s network address, its first address (kubernetes.default) or its IPv4 broadcast address.', fix: 'Use another address, e.g. the 10th.' },
  IpFamiliesUnsupported: { area: 'plan', exit: 'problems', field: 'networkProfile.ipFamilies', cause: 'Families other than `ipv4` or `ipv4,ipv6` (no IPv6-only).', fix: 'Use one of the two.' },
  CidrFamilyMismatch: { area: 'plan', exit: 'problems', field: 'networkProfile.podCidrs / serviceCidrs', cause: 'Not one CIDR per IP family in the order of `ipFamilies`.', fix: 'Give `[IPv4, IPv6]`, or set `ipFamilies: [ipv4, ipv6]`.' },
  OutboundTypeUnsupportedForDualStack: { area: 'plan', exit: 'problems', field: 'networkProfile.outboundType', cause: 'Dual-stack with `managedNATGateway`.', fix: 'Use loadBalancer or userDefinedRouting.' },
  MaxPodsOutOfRange: { area: 'plan', exit: 'problems', field: 'agentPoolProfiles[i].maxPods', cause: 'Max pods outside 10..250 (AKS: `InsufficientMaxPods` for the low side).', fix: 'Use 10..250.' },
  MaxPodsPoolTooSmall: { area: 'plan', exit: 'problems', field: 'agentPoolProfiles[i].maxPods', cause: 'Max pods below 30 while the pool holds fewer than 30 pods (count x maxPods).', fix: 'Raise maxPods or the node count.' },
  SubnetTooSmall: { area: 'plan', exit: 'problems', field: 'vnet.subnets[i].cidr', cause: 'The subnet\'s usable addresses (size - 5) are fewer than the nodes of the pools in it.', fix: 'Use the prefix named, or larger.' },
  TooManyNodes: { area: 'plan', exit: 'problems', field: 'agentPoolProfiles', cause: 'More than 5,000 nodes.', fix: 'Split over clusters.' },
  NameTooLong: { area: 'plan', exit: 'problems', field: 'vnet.name, vnet.resourceGroup (or resourceGroup), vnet.subnets[i].name', cause: 'Over 63 characters; AKS puts these names in node labels.', fix: 'Shorten.' },
  NameNotLabelValue: { area: 'plan', exit: 'problems', field: 'vnet.name, vnet.resourceGroup (or resourceGroup), vnet.subnets[i].name', cause: 'Not a Kubernetes label value (letters, digits, `-`, `_`, `.`, alphanumeric at both ends).', fix: 'Rename.' },
  AvailabilitySetNotSupported: { area: 'plan', exit: 'problems', field: 'agentPoolProfiles[i].type', cause: 'VM availability sets are not supported by overlay.', fix: 'Use VirtualMachineScaleSets.' },
  VmSizeNotSupported: { area: 'plan', exit: 'problems', field: 'agentPoolProfiles[i].vmSize', cause: 'DCsv2-series sizes (`Standard_DC<n>[s]_v2`).', fix: 'Use DCasv5/DCadsv5 for confidential computing.' },
  NodePoolNameInvalid: { area: 'plan', exit: 'problems', field: 'agentPoolProfiles[i].name', cause: 'Pool names: Linux 1-12, Windows 1-6 lower-case letters and digits, starting with a letter.', fix: 'Rename.' },
  DuplicateNodePoolName: { area: 'plan', exit: 'problems', field: 'agentPoolProfiles[i].name', cause: 'Two pools share a name.', fix: 'Rename one.' },
  UnknownSubnet: { area: 'plan', exit: 'problems', field: 'agentPoolProfiles[i].vnetSubnetName', cause: 'The pool names a subnet the VNet does not have.', fix: 'Use a listed subnet.' },
  DuplicateSubnetName: { area: 'plan', exit: 'problems', field: 'vnet.subnets[i].name', cause: 'Two subnets share a name.', fix: 'Rename one.' },
  SubnetOutsideVnet: { area: 'plan', exit: 'problems', field: 'vnet.subnets[i].cidr', cause: 'A subnet outside every VNet address space.', fix: 'Move it or add an address space.' },
  SubnetsOverlap: { area: 'plan', exit: 'problems', field: 'vnet.subnets[i].cidr', cause: 'Two subnets overlap.', fix: 'Make them disjoint.' },
  VnetOverlapsReservedRange: { area: 'plan', exit: 'problems', field: 'vnet.addressSpaces[i]', cause: 'A VNet address space overlaps a range AKS reserves.', fix: 'Choose another range.' },
  VnetAddressSpacesOverlap: { area: 'plan', exit: 'problems', field: 'vnet.addressSpaces[i]', cause: 'Two address spaces overlap.', fix: 'List each range once.' },
  ConnectedNetworkOverlapsVnet: { area: 'plan', exit: 'problems', field: 'connectedNetworks[i].cidrs[j]', cause: 'A connected network overlaps the VNet (Azure cannot peer or route overlapping spaces).', fix: 'Fix the ranges.' },
  TooManyNonMasqueradeCidrs: { area: 'plan', exit: 'problems', field: 'networkProfile.nonMasqueradeCidrs', cause: 'More than 64 non-masquerade CIDRs including the pod CIDRs (ip-masq-agent\'s limit).', fix: 'Merge ranges.' },
  PodCidrShrunk: { area: 'planUpdate', exit: 'problems', field: 'networkProfile.podCidr', cause: 'The new pod CIDR is inside the old one: nodes hold blocks across the whole old range.', fix: 'Keep the old CIDR or grow it.' },
  PodCidrReplaced: { area: 'planUpdate', exit: 'problems', field: 'networkProfile.podCidr', cause: 'The new pod CIDR does not contain the old one (moved, disjoint, or a family removed).', fix: 'Grow into a superset; the message names one.' },
  PodCidrGrowthWindows: { area: 'planUpdate', exit: 'problems', field: 'networkProfile.podCidr', cause: 'Growth in a cluster with Windows pools (before or after the change).', fix: 'Pod CIDR expansion is Linux-only.' },
  PodCidrGrowthIpv6: { area: 'planUpdate', exit: 'problems', field: 'networkProfile.podCidrs', cause: 'Growth of an IPv6 pod CIDR.', fix: 'Not supported; keep it.' },
  PodCidrGrowthDualStack: { area: 'planUpdate', exit: 'problems', field: 'networkProfile.podCidrs', cause: 'Growth of a pod CIDR of a dual-stack cluster (several pod CIDRs).', fix: 'Not supported; keep it.' },
  ServiceCidrImmutable: { area: 'planUpdate', exit: 'problems', field: 'networkProfile.serviceCidr', cause: 'The service CIDR changed.', fix: 'Keep the current value.' },
  DnsServiceIpImmutable: { area: 'planUpdate', exit: 'problems', field: 'networkProfile.dnsServiceIP', cause: 'The DNS service IP changed.', fix: 'Keep the current value.' },
  IpFamiliesImmutable: { area: 'planUpdate', exit: 'problems', field: 'networkProfile.ipFamilies', cause: 'The IP families changed.', fix: 'Create a new cluster.' },
  PodCidrPublic: { area: 'planWarning', exit: 'ok', field: 'networkProfile.podCidr', cause: 'Public IPv4 space (not RFC 1918 / RFC 6598), or IPv6 outside ULA fc00::/7: AKS does not block it but does not support it, and pods could not reach the real owners of those addresses.', fix: 'Use private space.' },
  PodCidrNoSurgeRoom: { area: 'planWarning', exit: 'ok', field: 'networkProfile.podCidr', cause: 'Enough blocks for the nodes but not for nodes + surge: upgrades would stall ("not enough IPs available", ACN#2999).', fix: 'Use the prefix named.' },
  SubnetNoSurgeRoom: { area: 'planWarning', exit: 'ok', field: 'vnet.subnets[i].cidr', cause: 'Enough node IPs for the nodes but not for nodes + surge.', fix: 'Use the prefix named.' },
  ServiceCidrOverlapsVnet: { area: 'planWarning', exit: 'ok', field: 'networkProfile.serviceCidr', cause: 'The service CIDR overlaps a VNet address space but no subnet yet: a subnet added there later would be unreachable from pods.', fix: 'Prefer a range outside the VNet.' },
  ServiceCidrOverlapsConnectedNetwork: { area: 'planWarning', exit: 'ok', field: 'networkProfile.serviceCidr', cause: 'The service CIDR overlaps a connected network: pods could not reach those hosts.', fix: 'Prefer a range no connected network uses.' },
  WindowsMaxPodsAboveRecommended: { area: 'planWarning', exit: 'ok', field: 'agentPoolProfiles[i].maxPods', cause: 'A Windows pool above the recommended 110 pods per node.', fix: 'Lower maxPods to 110 or less.' },
  NoLinuxNodePool: { area: 'planWarning', exit: 'ok', field: 'agentPoolProfiles', cause: 'No Linux pool: AKS runs system pods on Linux.', fix: 'Add a Linux pool before creating the cluster.' },
  InvalidStoreUrl: { area: 'store', exit: 'usage', field: '--store', cause: '`--store` is not `sqlite:PATH` or `etcd:http(s)://HOST:PORT[,...]`.', fix: 'Use `sqlite:/path/to/cluster.db` or `etcd:http://HOST:PORT[,http://HOST:PORT...]` (optionally `?prefix=/podnet/v1/`).' },
  StoreUnreachable: { area: 'store', exit: 'unreachable', field: '--store', cause: 'etcd did not answer (member down, deadline of 5 s), or the SQLite file cannot be opened; retryable.', fix: 'Check that the etcd members run and are reachable, or that the directory exists and is writable; the request is safe to retry.' },
  StoreBusy: { area: 'store', exit: 'unreachable', cause: 'SQLite writers queued longer than the 15 s busy timeout; retryable.', fix: 'Many processes write at once; retry in a moment.' },
  StoreCorrupt: { area: 'store', exit: 'problems', cause: 'Unparsable JSON, a record of the wrong shape, a block row outside the pod CIDR, a pod CIDR history that is not a chain of growths, a file that is not a podnet store or pod address file; never overwritten, the key or row is named.', fix: 'Inspect the entry named, fix or delete it by hand, or restore a backup; a pod address file can be moved away (the agent creates a new one).' },
  StoreNotFound: { area: 'store', exit: 'problems', field: '--store', cause: 'A read-only command named a store that does not exist (no sqlite file, no memory store of that name).', fix: 'Check the --store URL (or $PODNET_STORE); a store is created by the first command that writes to it.' },
  StoreSchemaMismatch: { area: 'store', exit: 'problems', cause: 'The cluster record\'s `schemaVersion` (or SQLite\'s `meta.schema_version`, or a pod address file\'s) is not the one this podnet reads.', fix: 'Use the podnet version that wrote it, or point `--store` at a store for this version (a pod address file: drain the node and remove it).' },
  StoreClosed: { area: 'store', exit: 'problems', cause: 'The in-memory store was used after it was closed.', fix: 'A bug in the caller: report it.' },
  StoreLeaseNotFound: { area: 'store', exit: 'problems', field: 'lease', cause: 'A versioned-store write named a store lease that expired or was revoked.', fix: 'Grant a new lease and put the keys on it again.' },
  ClusterNotFound: { area: 'store', exit: 'problems', field: '--store', cause: 'The store holds no cluster record yet.', fix: 'Write one with `podnet cluster create -f profile.yaml --store URL` (then start the agents), or point `--store` at the right store.' },
  ClusterExists: { area: 'store', exit: 'problems', field: '--store', cause: '`cluster create` on a store that already holds a cluster.', fix: 'Change it with `podnet cluster update -f profile.yaml`, or use another `--store`.' },
  ClusterConflict: { area: 'store', exit: 'problems', cause: 'The cluster record changed since it was read (CAS on the generation).', fix: 'Read it again and re-apply.' },
  ClusterFieldImmutable: { area: 'store', exit: 'problems', cause: '`cluster update` changes something other than the pod CIDR or node pools.', fix: 'Keep those fields as `podnet cluster show -o json` prints them; create a new cluster for other changes.' },
  PodCidrNotGrowth: { area: 'store', exit: 'problems', field: 'network.podCidrs', cause: 'The store refuses a pod CIDR that does not contain the old one, whatever the caller checked.', fix: 'Keep the pod CIDR, or grow it to a larger prefix containing it (e.g. /16 -> /15 with the same start).' },
  PodCidrExhausted: { area: 'store', exit: 'problems', field: 'network.podCidrs[0]', cause: 'No free /24 block: every block is leased or in quarantine (the counts are in `details`).', fix: 'Grow the pod CIDR (`podnet cluster update`), or release the blocks of nodes that are gone (`podnet ipam release --node NAME`).' },
  LeaseNotFound: { area: 'store', exit: 'problems', cause: 'Renew or release of a node with no live lease (it expired or was released).', fix: 'Claim the block again (the agent does this on its own); the node gets its old block back while it is in quarantine.' },
  BlockClaimContention: { area: 'store', exit: 'unreachable', field: 'nodeName', cause: 'etcd: 30 lost compare-and-swap races in a row for one claim or renewal; retryable.', fix: 'Many nodes are joining at once; retry in a moment.' },
  InvalidClaim: { area: 'store', exit: 'usage', cause: 'A block claim with a bad node name (DNS-1123), TTL or max pods.', fix: 'The agent passes its node name, node IP, pool, max pods and a lease TTL in seconds.' },
  MaxPodsReached: { area: 'store', exit: 'problems', field: 'maxPods', cause: 'The node already holds max pods addresses.', fix: 'Schedule the pod on another node, or raise the node pool\'s max pods (`podnet cluster update`).' },
  BlockExhausted: { area: 'store', exit: 'problems', field: 'block', cause: 'No free address in the node\'s block (only when max pods > 254).', fix: 'Remove pods from this node.' },
  PodIpamBlockMismatch: { area: 'store', exit: 'problems', field: 'block', cause: 'The node\'s pod address file holds addresses of another block than the one the node now owns.', fix: 'Drain the node\'s pods (`podnet ipam pods` lists them), then remove the file named.' },
  PodIpamNotFound: { area: 'store', exit: 'problems', field: '--node', cause: 'No pod address file for that node under `--state-dir`.', fix: 'Check the node name and `--state-dir` (the agent keeps `<state-dir>/<node>/pod-ipam.db`).' },
  InvalidBlock: { area: 'store', exit: 'usage', field: 'block', cause: 'The pod allocator was given a block that is not a node block (/24, IPv6 /120).', fix: 'Pass the block the node leased from the cluster store.' },
  InvalidMaxPods: { area: 'store', exit: 'usage', field: 'maxPods', cause: 'The pod allocator was given max pods outside 1..254.', fix: 'A block offers 254 pod addresses (.1 to .254); node pools allow 10 to 250.' },
  InvalidAllocation: { area: 'store', exit: 'usage', cause: 'A pod address request without its container id or interface name.', fix: 'The runtime passes `CNI_CONTAINERID` and `CNI_IFNAME`.' },
  AddressWithoutInterface: { area: 'ipamCheck', exit: 'problems', cause: 'An address held by an attachment that has no interface on the node: a leak.', fix: 'CNI GC from the runtime, or `podnet ipam release --node N --container ID`.' },
  InterfaceWithoutAddress: { area: 'ipamCheck', exit: 'problems', cause: 'A podnet veth whose attachment holds no address.', fix: 'CNI GC, or `ip link del`.' },
  PodRouteMissing: { area: 'ipamCheck', exit: 'problems', cause: 'A held address with its veth, but no /32 route through it.', fix: 'Delete and re-create the pod (CNI CHECK names it too).' },
  PodRouteStray: { area: 'ipamCheck', exit: 'problems', cause: 'A /32 route through a podnet veth for an address no pod there holds.', fix: 'CNI GC, or `ip route del`.' },
  AddressOutsideBlock: { area: 'ipamCheck', exit: 'problems', cause: 'An address outside the block the file is for.', fix: 'The file is damaged: drain the node.' },
  BlockNotLeased: { area: 'ipamCheck', exit: 'problems', cause: 'The store does not lease the file\'s block to this node (and says who does).', fix: 'Is the agent running? It renews and, if the lease is gone, reclaims.' },
  PodSideIncomplete: { area: 'ipamCheck', exit: 'problems', cause: 'An attachment complete on the node (address, veth, route) but not inside the pod (CNI CHECK\'s own check): an ADD that stopped midway because the agent died in it.', fix: 'Let the runtime run CNI DEL or GC, or re-create the pod.' },
  InvalidNodeName: { area: 'agent', exit: 'usage', field: '--node', cause: '`--node` is not a Kubernetes node name (lower-case letters, digits, `-`, `.`).', fix: 'Use e.g. `aks-nodepool1-0`.' },
  InvalidNetnsName: { area: 'agent', exit: 'usage', field: '--netns', cause: '`--netns` is not a network namespace name.', fix: 'Give the name as `ip netns list` shows it (a namespace under /run/netns).' },
  InvalidPeerRoutesMode: { area: 'agent', exit: 'usage', field: '--peer-routes', cause: '`--peer-routes` is neither `direct` nor `off`.', fix: 'direct: the agent routes to peers on its own subnets; off: a fabric router does it.' },
  InvalidLeaseTtl: { area: 'agent', exit: 'usage', field: '--lease-ttl', cause: '`--lease-ttl` is not a whole number of seconds from 6 to one year.', fix: 'Pass a value in that range (the default is 24 h).' },
  InvalidResync: { area: 'agent', exit: 'usage', field: '--resync', cause: '`--resync` is not a whole number of seconds from 1 to 3600.', fix: 'Pass a value in that range.' },
  InvalidMetricsPort: { area: 'agent', exit: 'usage', field: '--metrics-port', cause: '`--metrics-port` is not a port number from 1 to 65535.', fix: 'Pass a free loopback port, or `--metrics-socket PATH`.' },
  InvalidLogLevel: { area: 'agent', exit: 'usage', field: '--log-level', cause: '`--log-level` is not one of the levels listed in the message.', fix: 'Use `--log-level info` (or `debug` to see every reconcile).' },
  UnknownNodePool: { area: 'agent', exit: 'usage', field: '--pool', cause: '`--pool` names no pool of the cluster profile (the hint lists them).', fix: 'Use one of the pools listed, or add the pool to the profile.' },
  AgentAlreadyRunning: { area: 'agent', exit: 'problems', field: '--socket', cause: 'Another agent answers on `--socket`.', fix: 'Stop it first, or give this agent another socket.' },
  SocketPathInUse: { area: 'agent', exit: 'problems', field: '--socket', cause: '`--socket` exists and is not a socket.', fix: 'Remove the file or choose another path.' },
  MetricsPortInUse: { area: 'agent', exit: 'problems', field: '--metrics-port', cause: '`--metrics-port` cannot be bound.', fix: 'Choose a free port, or use `--metrics-socket`.' },
  MethodNotAllowed: { area: 'agent', exit: 'problems', cause: 'An agent API request with a method the path does not take (HTTP 405).', fix: 'GET /healthz, /readyz, /v1/status; POST /v1/cni.' },
  NotFound: { area: 'agent', exit: 'problems', cause: 'An agent API or metrics request for a path that does not exist (HTTP 404).', fix: 'Endpoints: GET /healthz, /readyz, /v1/status; POST /v1/cni; metrics on GET /metrics.' },
  UnknownNetns: { area: 'kernel', exit: 'usage', cause: 'A network namespace given by name (`--netns`) does not exist.', fix: 'Create it first (`ip netns add NAME`) or check `ip netns list`.' },
  KernelToolMissing: { area: 'kernel', exit: 'problems', cause: '`ip`, `nft` or `nsenter` cannot be run.', fix: 'Install iproute2, nftables or util-linux (`npm run setup` does it).' },
  KernelCommandFailed: { area: 'kernel', exit: 'problems', cause: 'An `ip`/`nft` call failed; the command and its stderr are in the message and `details`. In the agent: logged, counted in `podnet_reconcile_errors_total`, shown in `/v1/status`, retried on the next trigger.', fix: 'Read the command and its error; the agent keeps running and retries.' },
  LinkNotFound: { area: 'kernel', exit: 'problems', cause: 'An `ip` call named an interface the namespace does not have (decided once from its error, in src/kernel/failure.ts).', fix: 'Check the interface name; removals treat a missing link as already done.' },
  NetnsNotFound: { area: 'kernel', exit: 'problems', cause: 'A command was to run in a network namespace that does not exist.', fix: 'Create it first or check `ip netns list`; removals treat a missing namespace as already done.' },
  RouteTableNotFound: { area: 'kernel', exit: 'problems', cause: 'An `ip` call read or flushed a routing table that does not exist.', fix: 'Reads treat it as empty; check the table number otherwise.' },
  NftTableNotFound: { area: 'kernel', exit: 'problems', cause: 'An `nft` call named a table the namespace does not have.', fix: 'Reads treat it as absent; the agent or the lab re-creates its own tables.' },
  InvalidSysctlKey: { area: 'kernel', exit: 'usage', field: 'key', cause: 'A sysctl key that is not a plain `net/...`-style path (no `..`, no leading `/`).', fix: 'This is a bug in the caller: pass a key like `net/ipv4/ip_forward`.' },
  InvalidCniNetworkName: { area: 'cni', exit: 'usage', field: '--name', cause: '`install-cni --name` is not a valid CNI network name.', fix: 'Start with a letter or digit, then letters, digits, `_`, `.` or `-` (e.g. podnet).' },
  InvalidAgentSocket: { area: 'cni', exit: 'usage', field: '--socket', cause: '`install-cni --socket` is not an absolute path without quotes or spaces.', fix: 'Use the path the agent listens on, e.g. /run/podnet/agent.sock.' },
  InvalidConfFile: { area: 'cni', exit: 'usage', field: '--conf-file', cause: '`install-cni --conf-file` is not a file name ending in `.conflist`.', fix: 'Runtimes only read `*.conflist` files from the conf dir; e.g. `10-podnet.conflist`.' },
  CniInstallFailed: { area: 'cni', exit: 'problems', field: '--bin-dir / --conf-dir', cause: 'The plugin or its conflist could not be written.', fix: 'Run as root, or choose directories you can write.' },
  InterfaceExists: { area: 'cni', exit: 'problems', field: 'CNI_IFNAME', cause: 'ADD for an interface that already exists for the container.', fix: 'DEL the attachment first, or use another `CNI_IFNAME`; a runtime must not ADD twice without DEL.' },
  InvalidLabName: { area: 'lab', exit: 'usage', cause: '`--name`/`--vnet` is not a lower-case word of 1-12 letters/digits (it prefixes namespace names).', fix: 'Use e.g. `--name demo` or `--name blue2`.' },
  LabExists: { area: 'lab', exit: 'problems', field: '--name', cause: 'A lab (or its folder, or a cluster of that name in the VNet) exists.', fix: '`podnet lab down --name NAME` it, or pick another name.' },
  LabNotFound: { area: 'lab', exit: 'problems', field: '--name', cause: 'No lab of that name on this host.', fix: '`podnet lab status` lists the labs; `podnet lab up --name NAME` creates one.' },
  LabAmbiguous: { area: 'lab', exit: 'problems', field: '--name', cause: 'No `--name` given and several labs run.', fix: 'Name the lab with `--name`.' },
  LabSubnetInUse: { area: 'lab', exit: 'problems', cause: 'The cluster\'s node pools would sit on a subnet another cluster of the VNet uses.', fix: 'Put each cluster of a shared VNet on its own subnets: the routing domain tells clusters apart by the subnet their traffic comes from.' },
  LabSubnetConflict: { area: 'lab', exit: 'problems', field: 'vnet.subnets', cause: 'A subnet overlaps a different subnet already in the VNet.', fix: 'Give this cluster subnets that do not overlap the VNet\'s existing ones (`podnet lab status` lists them).' },
  SubnetNotFound: { area: 'lab', exit: 'problems', cause: 'A node pool names a subnet the VNet does not declare.', fix: 'Name one of `vnet.subnets`.' },
  SubnetFull: { area: 'lab', exit: 'problems', cause: 'No free node address left in a subnet.', fix: 'Use a larger subnet or fewer nodes.' },
  InvalidNodeCount: { area: 'lab', exit: 'usage', cause: '`--nodes`/`--count` out of range (a lab runs at most 20 nodes).', fix: 'A lab runs every node (and its agent) on this host; a handful is plenty.' },
  LabTooLarge: { area: 'lab', exit: 'usage', cause: 'The profile asks for more than 20 nodes (each is a real agent on this host).', fix: 'Pass `--nodes N` to spread fewer nodes over the profile\'s pools.' },
  InvalidPodsPerNode: { area: 'lab', exit: 'usage', field: '--pods-per-node', cause: '`--pods-per-node` above the pools\' max pods.', fix: 'Pass a smaller count, e.g. `--pods-per-node 2`.' },
  PoolNotFound: { area: 'lab', exit: 'problems', field: '--pool', cause: 'The lab has no node pool of that name.', fix: 'Use one of the pools the hint lists.' },
  NodeNotFound: { area: 'lab', exit: 'problems', field: '--node', cause: 'The lab has no node of that name.', fix: 'Use one of the nodes the hint lists.' },
  PodNotFound: { area: 'lab', exit: 'problems', cause: 'The lab has no pod (for `lab exec`: no pod, node or external host) of that name.', fix: '`podnet lab status` lists them.' },
  PodExists: { area: 'lab', exit: 'problems', field: '--pod', cause: 'A pod of that name exists in the lab.', fix: 'Pick another name.' },
  InvalidPodName: { area: 'lab', exit: 'usage', field: '--pod', cause: 'The pod name is not a lower-case DNS label of at most 40 characters.', fix: 'Use e.g. `web-1`.' },
  LabNotMadeByDemo: { area: 'lab', exit: 'problems', field: '--name', cause: '`podnet demo` found a lab of that name that it did not make (a `lab up --name demo`, say); the demo replaces only its own labs.', fix: 'Remove that lab with `podnet lab down --name NAME`, or run `podnet demo --name another`.' },
  InvalidNamespaceName: { area: 'lab', exit: 'usage', field: '--namespace', cause: '`--namespace` is not a lower-case DNS label of at most 40 characters.', fix: 'Use e.g. `--namespace shop`.' },
  InvalidLabel: { area: 'lab', exit: 'usage', field: '--labels', cause: 'A `--labels` pair is not `key=value` in Kubernetes label syntax, or a key is given twice.', fix: 'Write `--labels app=web,tier=front`.' },
  LabCniFailed: { area: 'lab', exit: 'problems', cause: 'The CNI plugin failed (its CNI error code and message are in the text; the agent log is named).', fix: 'Read the agent log named in the hint.' },
  CniNotInstalled: { area: 'lab', exit: 'problems', cause: 'The node has no conflist (install-cni did not run).', fix: '`podnet install-cni` writes it; run `podnet lab down` and `up` again.' },
  LabTimeout: { area: 'lab', exit: 'problems', cause: 'An agent, the fabric routes, etcd or the agents\' pod CIDR did not converge in time.', fix: 'Read the logs in the lab folder (`podnet lab status` shows it).' },
  LabSpawnFailed: { area: 'lab', exit: 'problems', cause: 'A lab daemon could not be started.', fix: 'Read the logs in the lab folder.' },
  LabBusy: { area: 'lab', exit: 'problems', cause: 'Another lab command is changing the same lab or VNet (its pid is named); a lock left by a crashed command is taken over on its own.', fix: 'Wait for that lab command to finish, then try again.' },
  LabRemoved: { area: 'lab', exit: 'problems', field: '--name', cause: '`podnet lab down` removed the lab while `lab up` was building it; up stopped at its next step and down removed what it had made.', fix: 'Nothing to clean up; `podnet lab up` again for a new lab.' },
  ObjectsInvalid: { area: 'objects', exit: 'problems', cause: 'An apply (or `delete -f`) whose documents break the API server\'s rules: unknown fields (with the nearest known one), wrong types, invalid names, labels or ports, a namespace that does not exist, an immutable field changed, the same object twice; every problem is in the message and in `details.problems` (file#document, field, rule, hint). Nothing was applied.', fix: 'Fix every problem listed and apply again.' },
  ObjectConflict: { area: 'objects', exit: 'problems', field: 'metadata.resourceVersion', cause: 'kubectl\'s "the object has been modified": the manifest\'s `metadata.resourceVersion` is not the stored one, or a key the command read changed before its transaction committed. Nothing was changed.', fix: 'Get the object again, reapply the change to it, and apply again.' },
  ObjectNotFound: { area: 'objects', exit: 'problems', cause: '`get` or `delete` of an object that does not exist (a delete of several names none of them).', fix: 'Check the name and namespace (`podnet get KIND -A`), or pass `--ignore-not-found` to delete.' },
  NamespaceUndeletable: { area: 'objects', exit: 'problems', field: 'NAME', cause: 'Deleting `default`, `kube-system` or `kube-public`, which the NamespaceLifecycle admission plugin refuses.', fix: 'Delete the objects in it instead.' },
  TransactionTooLarge: { area: 'objects', exit: 'usage', cause: 'One apply or delete would need more than the 128 operations or 1.5 MiB that etcd takes in one transaction.', fix: 'Split the manifests into several applies; delete a large namespace\'s objects in groups first.' },
  UnknownResourceType: { area: 'objects', exit: 'usage', field: 'KIND', cause: '`podnet get|delete` of a type podnet does not know.', fix: 'Use one of the types the hint lists (pods|pod|po, namespaces|namespace|ns).' },
  InvalidLabelSelector: { area: 'objects', exit: 'usage', field: '--selector', cause: 'A `-l` selector that does not parse, or whose key or value breaks the label rules; the message gives the position.', fix: 'Write requirements like `app=web,tier!=db,env in (prod,staging),!canary`.' },
  ManifestUnreadable: { area: 'objects', exit: 'usage', field: '--filename', cause: 'A `-f` path that does not exist or cannot be read.', fix: 'Give a YAML/JSON file, a directory of them, or `-` for stdin.' },
  ManifestTooLarge: { area: 'objects', exit: 'usage', field: '--filename', cause: 'A manifest over 8 MiB.', fix: 'Check the path; split very large manifests.' },
  ManifestEmpty: { area: 'objects', exit: 'usage', field: '--filename', cause: 'The manifests hold no objects (only comments or empty documents; a directory is read for .yaml, .yml and .json only).', fix: 'Check the files named.' },
  TraceUnknownPod: { area: 'trace', exit: 'usage', field: '--from', cause: '`--from` or `--to` names a pod the objects do not hold, or one without `status.podIP`.', fix: 'List the pods with `podnet get pods -A`; give a running pod or its address.' },
  TraceUnknownNamespace: { area: 'trace', exit: 'usage', field: '--from', cause: '`--from` or `--to` names a namespace no object is in.', fix: 'Give the pod as NAMESPACE/NAME.' },
  TraceBadFlow: { area: 'trace', exit: 'usage', field: '--protocol', cause: 'The flow is not one podnet can trace: no `--from`/`--to`, an unknown protocol or state, a port out of range, a port for ICMP, no port for TCP/UDP/SCTP, or an end that is neither a pod nor an address.', fix: 'The message names the flag; `podnet trace --help` shows the forms.' },
  NsgBlocksRequiredFlow: { area: 'trace', exit: 'problems', field: '--nsg', cause: 'A flow the overlay needs (node to node, node to pod, pod to pod, DNS) is denied by a subnet NSG; the message names the rule and the rule to add (`podnet plan --nsg`, `podnet nsg check`).', fix: 'Add the allow rule given, or narrow the deny rule.' },
  NsgInvalid: { area: 'trace', exit: 'usage', cause: 'An NSG that Azure would refuse: a rule name, priority (100-4096, unique per direction), direction, access, protocol, prefix, service tag or port range; every problem is listed with its field.', fix: 'Fix each rule named and run again.' },
  Internal: { area: 'cli', exit: 'problems', cause: 'An exception that is not a podnet error: a bug.', fix: 'Report it with the command you ran.' },
} as const satisfies Record<string, CatalogueEntry>;

export type ErrorCode = keyof typeof CATALOGUE;
