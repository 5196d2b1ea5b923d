/**
 * `podnet plan` end to end: runs the real executable (bin/podnet.js over dist/) on real files in a temp
 * directory and checks what a user and a script see: exit codes, stdout/stderr, the JSON shape.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ROOT, type CliRun as Run, runPodnet as podnet } from './testing/run-cli.js';

const BIN = join(ROOT, 'bin/podnet.js');
const dir = mkdtempSync(join(tmpdir(), 'podnet-plan-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string | Buffer): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

function json(run: Run): Record<string, unknown> {
  try {
    return JSON.parse(run.out);
  } catch {
    assert.fail(`stdout is not JSON: ${run.out.slice(0, 500)} / stderr: ${run.err.slice(0, 500)}`);
  }
}

function jsonError(run: Run): { code: string; field?: string; message: string; hint?: string } {
  const body = json(run) as { error: { code: string; field?: string; message: string; hint?: string } };
  assert.ok(body.error, 'a JSON error object');
  assert.deepEqual(Object.keys(body), ['error']);
  assert.equal(typeof body.error.message, 'string');
  return body.error;
}

const GOOD = `name: demo
vnet:
  name: vnet-demo
  addressSpaces: [10.224.0.0/12]
  subnets: [{name: nodes, cidr: 10.224.0.0/16}]
networkProfile:
  podCidr: 10.244.0.0/16
agentPoolProfiles:
  - name: system
    count: 3
`;

describe('podnet plan -f FILE', () => {
  it('prints a readable report and exits 0 for a valid plan', () => {
    const r = podnet(['plan', '-f', file('good.yaml', GOOD)]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^Plan for cluster "demo": VALID \(0 errors, 0 warnings\)/);
    assert.match(r.out, /pod CIDR 10\.244\.0\.0\/16: 256 blocks/);
    assert.match(r.out, /BINDS FIRST/);
    assert.match(r.out, /pod CIDR 10\.244\.0\.0\/16 \(one \/24 per node\)\s+256\s+252\s+yes/);
    assert.match(r.out, /flat Azure CNI, one per node and per pod: 1,004/);
  });

  it('-o json prints exactly {apiVersion, kind, valid, errors, warnings, capacity} with the capacity field names', () => {
    const r = podnet(['plan', '-f', file('good.yaml', GOOD), '-o', 'json']);
    assert.equal(r.code, 0);
    const body = json(r);
    assert.deepEqual(Object.keys(body), ['apiVersion', 'kind', 'valid', 'errors', 'warnings', 'capacity']);
    assert.deepEqual([body.apiVersion, body.kind], ['podnet.io/v1alpha1', 'PlanReport']);
    assert.equal(body.valid, true);
    const c = body.capacity as Record<string, unknown>;
    for (const k of [
      'podCidrBlocks',
      'podIpsPerBlock',
      'nodesIncludingSurge',
      'serviceAddresses',
      'subnets',
      'maxPodsPerNode',
      'maxClusterPods',
    ]) {
      assert.ok(k in c, `capacity.${k}`);
    }
    assert.equal(c.podCidrBlocks, 256);
    assert.equal(c.nodesIncludingSurge, 4);
    assert.deepEqual(c.maxPodsPerNode, { system: 250 });
    assert.deepEqual(Object.keys((c.subnets as object[])[0]).slice(0, 5), [
      'name',
      'cidr',
      'totalAddresses',
      'reserved',
      'usableNodeIps',
    ]);
  });

  it('exits 1 with every error listed for an invalid plan', () => {
    const bad = GOOD.replace('podCidr: 10.244.0.0/16', 'podCidr: 10.224.0.0/16\n  dnsServiceIP: 10.0.0.1');
    const r = podnet(['plan', '-f', file('bad.yaml', bad), '-o', 'json']);
    assert.equal(r.code, 1);
    const body = json(r) as { valid: boolean; errors: { code: string; field: string; message: string }[] };
    assert.equal(body.valid, false);
    assert.deepEqual(
      body.errors.map((e) => [e.code, e.field]),
      [
        ['PodCidrOverlapsVnet', 'networkProfile.podCidr'],
        ['DnsServiceIpReserved', 'networkProfile.dnsServiceIP'],
      ],
    );
    for (const e of body.errors) assert.deepEqual(Object.keys(e), ['code', 'field', 'message']);
    const table = podnet(['plan', '-f', join(dir, 'bad.yaml')]);
    assert.equal(table.code, 1);
    assert.match(table.out, /INVALID \(2 errors/);
    assert.match(table.out, /PodCidrOverlapsVnet \(networkProfile\.podCidr\)/);
  });

  it('exits 0 when there are only warnings', () => {
    const warn = GOOD.replace('podCidr: 10.244.0.0/16', 'podCidr: 20.0.0.0/16');
    const r = podnet(['plan', '-f', file('warn.yaml', warn), '-o', 'json']);
    assert.equal(r.code, 0);
    const body = json(r) as { valid: boolean; warnings: { code: string }[] };
    assert.equal(body.valid, true);
    assert.deepEqual(
      body.warnings.map((w) => w.code),
      ['PodCidrPublic'],
    );
  });

  it('reads the profile from standard input with -f -', () => {
    const r = podnet(['plan', '-f', '-', '-o', 'json'], { input: GOOD });
    assert.equal(r.code, 0, r.err);
    assert.equal(json(r).valid, true);
  });

  // Issue 14, fault 4: standard input was read without a limit (4.2 GB of memory before failing).
  it('gives up on standard input past the profile cap, without reading the rest', () => {
    const r = spawnSync(
      'sh',
      ['-c', `head -c 200000000 /dev/zero | "${process.execPath}" "${BIN}" plan -f - -o json`],
      {
        cwd: ROOT,
        encoding: 'utf8',
        timeout: 30_000,
      },
    );
    assert.equal(r.status, 2, r.stderr);
    const e = jsonError({ code: r.status, out: r.stdout, err: r.stderr });
    assert.equal(e.code, 'ProfileTooLarge');
    assert.match(e.message, /more than 1048576 bytes/);
  });

  it('checks the example profiles shipped in examples/', () => {
    assert.equal(podnet(['plan', '-f', 'examples/basic.yaml']).code, 0);
    assert.equal(podnet(['plan', '-f', 'examples/dual-stack.yaml']).code, 0);
    assert.equal(podnet(['plan', '-f', 'examples/mistakes.yaml']).code, 1);
    const grown = podnet([
      'plan',
      '-f',
      'examples/update/grown.yaml',
      '--from',
      'examples/update/current.yaml',
    ]);
    assert.equal(grown.code, 0);
    const moved = podnet([
      'plan',
      '-f',
      'examples/update/moved.yaml',
      '--from',
      'examples/update/current.yaml',
    ]);
    assert.equal(moved.code, 1);
    assert.match(moved.out, /PodCidrReplaced/);
  });
});

describe('podnet plan: unusable input exits 2 with a clear error', () => {
  const cases: [string, () => string, string, RegExp][] = [
    ['a missing file', () => join(dir, 'nope.yaml'), 'ProfileUnreadable', /no such file/],
    ['a directory', () => dir, 'ProfileUnreadable', /not a regular file/],
    ['an empty file', () => file('empty.yaml', ''), 'ProfileEmpty', /empty/],
    [
      'bad YAML',
      () => file('broken.yaml', 'agentPoolProfiles: [\n  - name: a\n'),
      'MalformedProfile',
      /line 2/,
    ],
    [
      'an unknown field',
      () => file('unknown.yaml', `${GOOD}colour: blue\n`),
      'InvalidProfile',
      /unknown field "colour"/,
    ],
    [
      'a CIDR with host bits',
      () => file('hostbits.yaml', GOOD.replace('10.244.0.0/16', '10.244.1.0/16')),
      'CidrHostBitsSet',
      /10\.244\.0\.0\/16/,
    ],
    ['a huge file', () => file('huge.yaml', Buffer.alloc(2 * 1024 * 1024, 0x61)), 'ProfileTooLarge', /bytes/],
  ];
  for (const [what, path, code, pattern] of cases) {
    it(`${what}: text on stderr, {"error":...} on stdout with -o json`, () => {
      const text = podnet(['plan', '-f', path()]);
      assert.equal(text.code, 2);
      assert.equal(text.out, '');
      assert.match(text.err, new RegExp(`^error ${code} \\(`));
      assert.match(text.err, /hint: /);
      const j = podnet(['plan', '-f', path(), '-o', 'json']);
      assert.equal(j.code, 2);
      const e = jsonError(j);
      assert.equal(e.code, code);
      assert.ok(e.field);
      assert.ok(e.hint);
      assert.match(e.message, pattern);
    });
  }

  it('an unusable --from profile is named as such', () => {
    const r = podnet([
      'plan',
      '-f',
      file('good.yaml', GOOD),
      '--from',
      file('cur.yaml', 'a: ['),
      '-o',
      'json',
    ]);
    assert.equal(r.code, 2);
    const e = jsonError(r);
    assert.equal(e.code, 'MalformedProfile');
    assert.equal(e.field, '--from');
    assert.match(e.message, /^current profile \(--from\): .*line 1, column 5/);
  });

  it('--output=json is honoured for input errors too', () => {
    const r = podnet(['plan', '-f', join(dir, 'missing.yaml'), '--output=json']);
    assert.equal(r.code, 2);
    assert.equal(jsonError(r).code, 'ProfileUnreadable');
  });

  it('an unknown flag', () => {
    const r = podnet(['plan', '--pod-cdr', '10.244.0.0/16']);
    assert.equal(r.code, 2);
    assert.match(r.err, /unknown option '--pod-cdr'/);
    assert.match(r.err, /Did you mean --pod-cidr\?/);
    const j = podnet(['plan', '-o', 'json', '--bogus']);
    assert.equal(j.code, 2);
    const e = jsonError(j);
    assert.equal(e.code, 'UnknownFlag');
    assert.equal(e.field, '--bogus');
  });

  it('a stray argument, an unknown output format, -f mixed with quick-plan flags', () => {
    const stray = podnet(['plan', 'profile.yaml']);
    assert.equal(stray.code, 2);
    assert.match(stray.err, /-f FILE/);
    assert.equal(podnet(['plan', '-o', 'xml']).code, 2);
    assert.match(
      podnet(['plan', '-o', 'yaml']).out,
      /^apiVersion: podnet.io\/v1alpha1\nkind: PlanReport\nvalid: true\n/,
    );
    const mixed = podnet(['plan', '-f', join(dir, 'good.yaml'), '--node-count', '5', '-o', 'json']);
    assert.equal(mixed.code, 2);
    assert.equal(jsonError(mixed).field, '--node-count');
  });
});

describe('podnet plan with quick-plan flags', () => {
  it('plans the AKS defaults with no flags at all', () => {
    const r = podnet(['plan', '-o', 'json']);
    assert.equal(r.code, 0);
    assert.equal(json(r).valid, true);
  });

  it('names the flag to change in each finding', () => {
    const r = podnet([
      'plan',
      '--pod-cidr',
      '10.244.0.0/22',
      '--vnet-cidr',
      '10.224.0.0/16',
      '--node-subnet',
      'nodes=10.224.0.0/24',
      '--connected-cidr',
      '192.168.0.0/16',
      '--service-cidr',
      '192.168.0.0/20',
      '--dns-service-ip',
      '192.168.0.10',
      '--node-count',
      '5',
      '--max-pods',
      '9',
      '-o',
      'json',
    ]);
    assert.equal(r.code, 1);
    const body = json(r) as {
      errors: { code: string; field: string }[];
      warnings: { code: string; field: string }[];
    };
    assert.deepEqual(
      body.errors.map((e) => [e.code, e.field]),
      [
        ['MaxPodsOutOfRange', '--max-pods'],
        ['PodCidrTooSmall', '--pod-cidr'],
      ],
    );
    assert.deepEqual(
      body.warnings.map((w) => [w.code, w.field]),
      [['ServiceCidrOverlapsConnectedNetwork', '--service-cidr']],
    );
  });

  it('points pool-wide findings at the flag that settles them', () => {
    const r = podnet([
      'plan',
      '--os-type',
      'Windows',
      '--max-pods',
      '30',
      '--node-count',
      '5001',
      '--pod-cidr',
      '100.64.0.0/10',
      '-o',
      'json',
    ]);
    assert.equal(r.code, 1);
    const body = json(r) as {
      errors: { code: string; field: string }[];
      warnings: { code: string; field: string }[];
    };
    assert.deepEqual(
      body.errors.map((e) => [e.code, e.field]),
      [['TooManyNodes', '--node-count']],
    );
    assert.deepEqual(
      body.warnings.map((w) => [w.code, w.field]),
      [['NoLinuxNodePool', '--os-type']],
    );
  });

  it('refuses a malformed flag value with exit 2', () => {
    const r = podnet(['plan', '--node-count', 'many', '-o', 'json']);
    assert.equal(r.code, 2);
    assert.equal(jsonError(r).field, '--node-count');
    const os = podnet(['plan', '--os-type', 'Plan9']);
    assert.equal(os.code, 2);
    assert.match(os.err, /Allowed choices are Linux, Windows/);
  });

  it('checks growth with --previous-pod-cidr', () => {
    const grow = podnet([
      'plan',
      '--pod-cidr',
      '10.244.0.0/15',
      '--previous-pod-cidr',
      '10.244.0.0/16',
      '-o',
      'json',
    ]);
    assert.equal(grow.code, 0);
    const shrink = podnet([
      'plan',
      '--pod-cidr',
      '10.244.0.0/17',
      '--previous-pod-cidr',
      '10.244.0.0/16',
      '-o',
      'json',
    ]);
    assert.equal(shrink.code, 1);
    assert.deepEqual(
      (json(shrink) as { errors: { code: string }[] }).errors.map((e) => e.code),
      ['PodCidrShrunk'],
    );
    const windows = podnet([
      'plan',
      '--pod-cidr',
      '10.244.0.0/15',
      '--previous-pod-cidr',
      '10.244.0.0/16',
      '--os-type',
      'Windows',
      '--max-pods',
      '30',
      '-o',
      'json',
    ]);
    assert.equal(windows.code, 1);
    assert.deepEqual(
      (json(windows) as { errors: { code: string }[] }).errors.map((e) => e.code),
      ['PodCidrGrowthWindows'],
    );
  });
});

describe('podnet plan with AKS input as Azure prints it', () => {
  const aks = (f: string) => join(ROOT, 'examples/aks', f);

  it('plans az aks show + az network vnet show + the peering list, with one warning listing what it ignored', () => {
    const r = podnet([
      'plan',
      '-f',
      aks('aks-show.json'),
      '-f',
      aks('vnet.json'),
      '-f',
      aks('peerings.json'),
      '-o',
      'json',
    ]);
    assert.equal(r.code, 0, r.err);
    const report = json(r) as { valid: boolean; warnings: { code: string; message: string }[] };
    assert.equal(report.valid, true);
    assert.deepEqual(
      report.warnings.map((w) => w.code),
      ['InputFieldsIgnored'],
    );
    assert.match(report.warnings[0].message, /provisioningState/);
  });

  it('plans an ARM template, and refuses a pod CIDR overlapping a peered VNet at the az field', () => {
    assert.equal(podnet(['plan', '-f', aks('arm-template.json')]).code, 0);
    const cluster = JSON.parse(readFileSync(aks('aks-show.json'), 'utf8'));
    cluster.networkProfile.podCidrs = ['10.100.0.0/16'];
    const r = podnet([
      'plan',
      '-f',
      file('overlap.json', JSON.stringify(cluster)),
      '-f',
      aks('vnet.json'),
      '-o',
      'json',
    ]);
    assert.equal(r.code, 1);
    const errors = (json(r) as { errors: { code: string; field: string }[] }).errors;
    assert.deepEqual(
      errors.map((e) => [e.code, e.field]),
      [['PodCidrOverlapsConnectedNetwork', 'networkProfile.podCidrs']],
    );
  });

  it('takes the az aks create network flags, and refuses kubenet with a code', () => {
    const ok = podnet([
      'plan',
      '--network-plugin',
      'azure',
      '--network-plugin-mode',
      'overlay',
      '--network-dataplane',
      'cilium',
      '--pod-cidr',
      '192.168.0.0/16',
      '--node-count',
      '20',
      '-o',
      'json',
    ]);
    assert.equal(ok.code, 0, ok.err);
    assert.match(JSON.stringify(json(ok)), /--network-dataplane cilium/);
    const kubenet = podnet(['plan', '--network-plugin', 'kubenet', '-o', 'json']);
    assert.equal(kubenet.code, 2);
    assert.equal(jsonError(kubenet).code, 'AksNotOverlay');
  });
});
