/**
 * `podnet plan`: checks a cluster profile (a file, or the one-pool quick-plan flags) against every Azure CNI
 * Overlay planning rule and reports errors, warnings and capacity. Exit 0 valid, 1 invalid, 2 unusable input.
 */
import { type Command, Option } from 'commander';
import { PodnetError } from '../../errors/index.js';
import { blockedMessage, checkNsgs } from '../../nsg/check.js';
import { type PlanReport, checkPlan } from '../../plan/check.js';
import type { Finding } from '../../plan/check.js';
import {
  type LoadedProfile,
  type PlanFlags,
  flagForField,
  ignoredAzFlags,
  ignoredMessage,
  loadProfileFile,
  loadProfileFiles,
  profileFromFlags,
} from '../../profile/load.js';
import type { ClusterProfile } from '../../profile/types.js';
import { worldFromFiles } from '../../trace/world.js';
import type { CliContext } from '../main.js';
import { EXIT, OUTPUT_HELP, emit, parseOutputFormat, renderError, table } from '../output.js';

interface PlanOptions extends PlanFlags {
  /** A podnet profile, or AKS input: a managed cluster with its VNet and peerings (several files). */
  file?: string[];
  /** NSG files (az network nsg show -o json): checked against the flows the cluster needs. */
  nsg?: string[];
  from?: string;
  previousPodCidr?: string;
  output: string;
}

const QUICK_FLAGS: (keyof PlanFlags)[] = [
  'podCidr',
  'serviceCidr',
  'dnsServiceIp',
  'ipFamilies',
  'vnetCidr',
  'nodeSubnet',
  'vnetSubnetId',
  'connectedCidr',
  'nodeCount',
  'maxPods',
  'maxSurge',
  'osType',
  'vmSize',
  'networkPlugin',
  'networkPluginMode',
  'networkPolicy',
  'networkDataplane',
  'outboundType',
  'podCidrs',
  'serviceCidrs',
  'nodeVmSize',
  'osSku',
  'nodepoolName',
];

const collect = (v: string, prev: string[] = []) => [...prev, v];

const EXAMPLES = `
Examples:
  podnet plan -f examples/basic.yaml
  podnet plan -f new.yaml --from current.yaml -o json
  podnet plan -f aks.json -f vnet.json -f peerings.json     az aks show, az network vnet show, ... peering list
  podnet plan -f template.json                               an ARM template (az bicep build) with the cluster
  podnet plan --pod-cidr 10.244.0.0/16 --vnet-cidr 10.224.0.0/12 --node-subnet nodes=10.224.0.0/16 --node-count 50
  podnet plan --pod-cidr 10.244.0.0/15 --previous-pod-cidr 10.244.0.0/16 --node-count 400
  podnet plan --network-plugin azure --network-plugin-mode overlay --pod-cidr 192.168.0.0/16 --node-count 20
  podnet plan --vnet-subnet-id /subscriptions/S/resourceGroups/RG/providers/Microsoft.Network/virtualNetworks/vnet/subnets/nodes --node-subnet 10.224.0.0/16

Exit codes: 0 valid (warnings allowed), 1 invalid, 2 unusable input.`;

/** Registers the `plan` command(s). */
export function registerPlan(program: Command, ctx: CliContext): void {
  const cmd = program
    .command('plan')
    .description('check a cluster network plan against every Azure CNI Overlay rule and report its capacity')
    .option(
      '-f, --file <path>',
      'cluster profile, YAML or JSON ("-" reads standard input); or AKS input as Azure prints it: az aks show -o json, an ARM resource or template, az network vnet show -o json, az network vnet peering list -o json (repeatable)',
      collect,
    )
    .option('--from <path>', 'the current profile: check the change from it to --file')
    .option('--pod-cidr <cidr>', 'pod CIDR (two, comma-separated, for dual-stack) [10.244.0.0/16]')
    .option('--service-cidr <cidr>', 'service CIDR (two for dual-stack) [10.0.0.0/16]')
    .option('--dns-service-ip <ip>', 'cluster DNS service IP, inside the service CIDR [10.0.0.10]')
    .option('--ip-families <families>', 'ipv4 or ipv4,ipv6 [ipv4]')
    .option('--vnet-cidr <cidr>', 'VNet address space, repeatable [10.224.0.0/12]', collect)
    .option('--node-subnet <name=cidr>', 'the node subnet [aks-subnet=10.224.0.0/16]')
    .option(
      '--vnet-subnet-id <id>',
      'as az aks create: the node subnet by resource id (its prefix: --node-subnet)',
    )
    .option('--connected-cidr <cidr>', 'a peered, ExpressRoute or VPN network, repeatable', collect)
    .option('--node-count <n>', 'nodes in the pool [3]')
    .option('--max-pods <n>', 'max pods per node, 10..250 [250]')
    .option('--max-surge <n|percent>', 'extra nodes during upgrades [1]')
    .addOption(new Option('--os-type <os>', 'node OS [Linux]').choices(['Linux', 'Windows']))
    .option('--vm-size <size>', 'VM size [Standard_DS2_v2]')
    .option('--network-plugin <plugin>', 'as az aks create: azure (with --network-plugin-mode overlay)')
    .option('--network-plugin-mode <mode>', 'as az aks create: overlay')
    .option(
      '--network-policy <policy>',
      'as az aks create (accepted, not planned with): none|azure|calico|cilium',
    )
    .option('--network-dataplane <dataplane>', 'as az aks create (accepted, not planned with): azure|cilium')
    .option('--outbound-type <type>', 'loadBalancer|managedNATGateway|userDefinedRouting [loadBalancer]')
    .option('--pod-cidrs <cidrs>', 'as az aks create: the pod CIDRs, comma-separated (same as --pod-cidr)')
    .option('--service-cidrs <cidrs>', 'as az aks create: the service CIDRs (same as --service-cidr)')
    .option('--node-vm-size <size>', 'as az aks create: the VM size (same as --vm-size)')
    .option('--os-sku <sku>', 'as az aks create: node OS SKU [Ubuntu]')
    .option('--nodepool-name <name>', 'as az aks create: the pool name [nodepool1]')
    .option(
      '--previous-pod-cidr <cidr>',
      'the pod CIDR in use now: check growing it (quick-plan form of --from)',
    )
    .option(
      '--nsg <file>',
      'an NSG as az network nsg show -o json prints it: the flows the cluster needs must pass (repeatable)',
      collect,
    )
    .option('-o, --output <format>', OUTPUT_HELP, 'table')
    .allowExcessArguments(false)
    .addHelpText('after', EXAMPLES)
    .action((opts: PlanOptions) => {
      const format = parseOutputFormat(opts.output);
      try {
        const { report, profile } = runPlan(opts);
        emit(ctx.io, format, 'PlanReport', report, () => renderPlanReport(report, profile));
        ctx.exitCode = report.valid ? EXIT.ok : EXIT.problems;
      } catch (e) {
        // Rendered here, where the output format is known however it was spelled (-o json, --output=json).
        ctx.exitCode = renderError(e, format, ctx.io);
      }
    });
  // A stray argument is most often a profile given without -f: say so.
  const commanderError = cmd.error.bind(cmd);
  cmd.error = (message, errorOptions) =>
    commanderError(
      errorOptions?.code === 'commander.excessArguments'
        ? `${message}\n(give the profile with -f FILE; see podnet plan --help)`
        : message,
      errorOptions,
    );
}

/** Loads the profile the options describe and checks it (throws PodnetError on unusable input). */
export function runPlan(opts: PlanOptions): { report: PlanReport; profile: ClusterProfile } {
  const quick = QUICK_FLAGS.filter((k) => opts[k] !== undefined);
  if (opts.file !== undefined && quick.length > 0) {
    throw new PodnetError(
      'UsageError',
      `--file cannot be combined with the quick-plan flag ${flagName(quick[0])}`,
      {
        field: flagName(quick[0]),
        hint: 'put the value in the profile file, or drop --file and give every setting as a flag',
      },
    );
  }
  if (opts.from !== undefined && opts.file === undefined) {
    throw new PodnetError('UsageError', '--from needs --file with the new profile', {
      field: '--from',
      hint: 'podnet plan -f new.yaml --from current.yaml',
    });
  }
  if (opts.previousPodCidr !== undefined && opts.from !== undefined) {
    throw new PodnetError(
      'UsageError',
      '--previous-pod-cidr and --from both give the current state; use one',
      {
        field: '--previous-pod-cidr',
        hint: 'with a profile file use --from current.yaml',
      },
    );
  }
  if (opts.file !== undefined) {
    const loaded = loadProfileFiles(opts.file);
    const { profile } = loaded;
    const previous = opts.from === undefined ? undefined : loadCurrentProfile(opts.from);
    const report = checkPlan(profile, { previous, previousPodCidr: opts.previousPodCidr });
    return { report: withIgnoredFields(withNsgFindings(report, profile, opts.nsg), loaded), profile };
  }
  const profile = profileFromFlags(opts);
  const checked = withNsgFindings(
    checkPlan(profile, { previousPodCidr: opts.previousPodCidr }),
    profile,
    opts.nsg,
  );
  const notUsed = ignoredAzFlags(opts);
  const report =
    notUsed.length === 0
      ? checked
      : {
          ...checked,
          warnings: [
            ...checked.warnings,
            {
              code: 'InputFieldsIgnored' as const,
              field: 'flags',
              message: `ignored ${notUsed.length} flag${notUsed.length === 1 ? '' : 's'} podnet does not plan with: ${notUsed.join(', ')}`,
            },
          ],
        };
  // In the quick plan a finding names the flag to change, not the profile path it stands for.
  const toFlag = (f: Finding): Finding => ({ ...f, field: flagForField(f.field, f.code) });
  return {
    report: { ...report, errors: report.errors.map(toFlag), warnings: report.warnings.map(toFlag) },
    profile,
  };
}

/** `--nsg`: every flow the cluster needs that the NSGs block is an error of the plan (`podnet nsg check`). */
function withNsgFindings(
  report: PlanReport,
  profile: ClusterProfile,
  files: string[] | undefined,
): PlanReport {
  if (!files || files.length === 0) return report;
  const blocked = checkNsgs(profile, worldFromFiles(files).nsgs);
  const errors = [
    ...report.errors,
    ...blocked.map((b) => ({
      code: 'NsgBlocksRequiredFlow' as const,
      field: `--nsg ${b.nsg}`,
      message: blockedMessage(b),
    })),
  ];
  return { ...report, errors, valid: errors.length === 0 };
}

/**
 * AKS input: findings name the field of the user's file (`networkProfile.dnsServiceIp`), and one warning lists
 * the fields podnet did not use.
 */
export function withIgnoredFields(report: PlanReport, loaded: LoadedProfile): PlanReport {
  const at = (f: Finding): Finding => ({ ...f, field: loaded.sourceField(f.field) });
  const message = ignoredMessage(loaded.ignored);
  const warnings = report.warnings.map(at);
  if (message !== undefined)
    warnings.push({
      code: 'InputFieldsIgnored',
      field: loaded.ignored.map((x) => x.source).join(', '),
      message,
    });
  return { ...report, errors: report.errors.map(at), warnings };
}

/** Loads the `--from` profile; its errors say they are about that file, not the new one. */
function loadCurrentProfile(path: string): ClusterProfile {
  try {
    return loadProfileFile(path);
  } catch (e) {
    if (!(e instanceof PodnetError)) throw e;
    throw new PodnetError(e.code, `current profile (--from): ${e.message}`, {
      field: e.field === '--file' ? '--from' : e.field,
      hint: e.hint,
      details: e.details,
      cause: e,
    });
  }
}

function flagName(key: string): string {
  return `--${key.replace(/[A-Z]/g, (m) => `-${m.toLowerCase()}`)}`;
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
const grouped = (n: number) => n.toLocaleString('en-US');

function findings(title: string, list: Finding[]): string[] {
  if (list.length === 0) return [];
  return [title, ...list.flatMap((f) => [`  ${f.code} (${f.field})`, `    ${f.message}`]), ''];
}

/** The readable report: verdict, findings, capacity, growth room per limit, VNet address use. */
export function renderPlanReport(report: PlanReport, profile: ClusterProfile): string {
  const c = report.capacity;
  const n = profile.network;
  return [
    `Plan for cluster "${profile.name}": ${report.valid ? 'VALID' : 'INVALID'} (${plural(report.errors.length, 'error')}, ${plural(report.warnings.length, 'warning')})`,
    '',
    ...findings('ERRORS', report.errors),
    ...findings('WARNINGS', report.warnings),
    'CAPACITY',
    `  pod CIDR ${n.podCidrs.join(', ')}: ${grouped(c.podCidrBlocks)} blocks of ${c.podIpsPerBlock} addresses, one block per node`,
    `  nodes: ${grouped(c.nodes)}, ${grouped(c.nodesIncludingSurge)} during upgrades (${grouped(c.surgeNodes)} surge)`,
    `  pods: up to ${grouped(c.maxClusterPods)} on these nodes`,
    `  service CIDR ${n.serviceCidrs.join(', ')}: ${grouped(c.serviceAddresses)} addresses; DNS service IP ${n.dnsServiceIp}`,
    '',
    table(
      ['pool', 'os', 'vm size', 'subnet', 'nodes', 'surge', 'max pods/node', 'max pods'],
      profile.nodePools.map((p) => [
        p.name,
        p.osType,
        p.vmSize,
        p.subnet,
        grouped(p.count),
        grouped(p.maxSurge),
        p.maxPods,
        grouped(p.count * p.maxPods),
      ]),
    ),
    '',
    table(
      ['subnet', 'cidr', 'addresses', 'reserved', 'usable node ips', 'nodes', 'with surge'],
      c.subnets.map((s) => [
        s.name,
        s.cidr,
        grouped(s.totalAddresses),
        s.reserved,
        grouped(s.usableNodeIps),
        grouped(s.nodes),
        grouped(s.nodesIncludingSurge),
      ]),
    ),
    '',
    'GROWTH: more nodes that fit before each limit, keeping room for the upgrade surge',
    table(
      ['limit', 'max nodes', 'more nodes', 'binds first'],
      c.limits.map((l, i) => [
        l.description,
        grouped(l.maxNodes),
        grouped(l.moreNodes),
        i === 0 ? 'yes' : '',
      ]),
    ),
    '',
    'VNET ADDRESSES',
    `  overlay, one per node: ${grouped(c.vnetAddresses.overlay)}`,
    `  flat Azure CNI, one per node and per pod: ${grouped(c.vnetAddresses.flat)}`,
    `  saved by the overlay: ${grouped(c.vnetAddresses.saved)}`,
  ]
    .join('\n')
    .split('\n')
    .map((line) => line.trimEnd())
    .join('\n');
}
