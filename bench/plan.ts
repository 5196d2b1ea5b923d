/**
 * How long `podnet plan`'s pure core takes: loading a profile (YAML parse + shape checks + defaults) and
 * `checkPlan` (every rule + capacity), for the commented example and for a cluster at the 5,000-node limit with
 * 100 pools on 100 subnets and 60 connected CIDRs. `checkPlan` runs inside `cluster create/update` and `lab up`,
 * so it must stay far below a millisecond for ordinary profiles. Baseline in the same run: the YAML library
 * parsing the same text and nothing else (the floor any loader pays).
 */
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { checkPlan } from '../src/plan/check.js';
import { parseProfileText } from '../src/profile/load.js';

function largeProfile(): string {
  const lines = [
    'name: large',
    'vnet:',
    '  name: vnet-large',
    '  addressSpaces: [10.0.0.0/9]',
    '  subnets:',
    ...Array.from({ length: 100 }, (_, i) => `    - {name: s${i}, cidr: 10.${i}.0.0/24}`),
    'connectedNetworks:',
    ...Array.from(
      { length: 60 },
      (_, i) => `  - {name: c${i}, kind: peering, cidrs: [172.${i % 14}.${i}.0/24]}`,
    ),
    'networkProfile:',
    '  podCidr: 100.64.0.0/10',
    '  serviceCidr: 192.168.0.0/16',
    '  dnsServiceIP: 192.168.0.10',
    'agentPoolProfiles:',
    ...Array.from(
      { length: 100 },
      (_, i) => `  - {name: pool${i}, vnetSubnetName: s${i}, count: 50, maxPods: 110}`,
    ),
  ];
  return `${lines.join('\n')}\n`;
}

/**
 * Median milliseconds per call of each function over `rounds` rounds of `n` calls. The functions take turns
 * within each round, so load from other processes on the machine falls on all of them alike.
 */
function perCall(fns: (() => unknown)[], n: number, rounds = 9): number[] {
  const samples: number[][] = fns.map(() => []);
  for (let r = 0; r < rounds; r++) {
    fns.forEach((fn, k) => {
      const t = performance.now();
      for (let i = 0; i < n; i++) fn();
      samples[k].push((performance.now() - t) / n);
    });
  }
  return samples.map((s) => s.sort((a, b) => a - b)[Math.floor(s.length / 2)]);
}

const ms = (v: number) => (v < 0.1 ? v.toFixed(3) : v.toFixed(2));

export default {
  name: 'plan',
  async run(): Promise<string> {
    const cases: [string, string, number][] = [
      ['examples/basic.yaml (2 pools, 43 nodes)', readFileSync('examples/basic.yaml', 'utf8'), 2000],
      ['100 pools, 100 subnets, 60 connected CIDRs, 5,000 nodes', largeProfile(), 100],
    ];
    const rows: string[] = [];
    for (const [what, text, n] of cases) {
      const profile = parseProfileText(text, 'bench');
      const report = checkPlan(profile);
      if (!report.valid) throw new Error(`bench profile is invalid: ${JSON.stringify(report.errors[0])}`);
      const fns = [() => parse(text), () => parseProfileText(text, 'bench'), () => checkPlan(profile)];
      perCall(fns, n, 1); // warm up
      const [yamlOnly, load, check] = perCall(fns, n);
      rows.push(
        `| ${what} | ${ms(yamlOnly)} | ${ms(load)} (${(load / yamlOnly).toFixed(2)}x) | ${ms(check)} | ${ms(load + check)} |`,
      );
    }
    return [
      '### podnet plan: profile load and checkPlan',
      '',
      'Median time per call (ms). Baseline: the YAML library parsing the same text and nothing else.',
      '',
      '| profile | YAML parse alone | load profile (vs YAML alone) | checkPlan | load + check |',
      '|---|---|---|---|---|',
      ...rows,
    ].join('\n');
  },
};
