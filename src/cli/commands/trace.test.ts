/**
 * `podnet trace` end to end on the example files (examples/trace: a profile, pods, a NetworkPolicy and an NSG in
 * the shape `az network nsg show -o json` prints), through main(argv, io): the verdicts a user reads, the JSON a
 * script reads, and coded errors for unusable input.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runMain as podnet } from './testing/run-cli.js';

const EXAMPLES = join(resolve(dirname(fileURLToPath(import.meta.url)), '../../../..'), 'examples/trace');

const traceJson = async (...flow: string[]) => {
  const r = await podnet(['trace', '-f', EXAMPLES, ...flow, '-o', 'json']);
  assert.equal(r.code, 0, r.out + r.err);
  return JSON.parse(r.out);
};

describe('podnet trace', () => {
  it('a flow a NetworkPolicy blocks: default-deny, exit 0 all the same', async () => {
    const r = await traceJson(
      '--from',
      'shop/cache',
      '--to',
      'shop/db',
      '--protocol',
      'TCP',
      '--port',
      '5432',
    );
    assert.equal(r.verdict, 'deny');
    assert.deepEqual(r.decidedBy, [{ layer: 'networkpolicy', object: null, rule: 'default-deny' }]);
    assert.deepEqual(r.notEvaluated, []);
  });

  it('a flow an NSG blocks: the NSG and its rule by name', async () => {
    const r = await traceJson('--from', 'shop/web', '--to', 'shop/db', '--protocol', 'TCP', '--port', '6379');
    assert.equal(r.verdict, 'deny');
    assert.deepEqual(r.decidedBy, [{ layer: 'nsg', object: 'user-nsg', rule: 'deny-sys-subnet' }]);
  });

  it('an allowed flow lists what admitted it at each layer, and the table reads hop by hop', async () => {
    const r = await traceJson('--from', 'shop/web', '--to', 'shop/db', '--protocol', 'TCP', '--port', '5432');
    assert.equal(r.verdict, 'allow');
    assert.deepEqual(r.decidedBy, [
      { layer: 'nsg', object: 'user-nsg', rule: 'AllowVnetInBound' },
      { layer: 'networkpolicy', object: 'shop/db-from-web', rule: 'ingress[0]' },
    ]);
    const t = await podnet([
      'trace',
      '-f',
      EXAMPLES,
      '--from',
      'shop/web',
      '--to',
      'shop/db',
      '--protocol',
      'tcp',
      '--port',
      '5432',
    ]);
    assert.match(t.out, /^VERDICT\s+LAYER\s+AT\s+WHAT\n/);
    assert.match(t.out, /\nVERDICT: ALLOW \(source seen as 10\.244\.0\.5\)/);
  });

  it('unusable input exits 2 with a code: unknown pod, missing port, bad protocol, no objects', async () => {
    const err = async (args: string[]) => {
      const r = await podnet([...args, '-o', 'json']);
      return [r.code, JSON.parse(r.out).error.code];
    };
    assert.deepEqual(
      await err([
        'trace',
        '-f',
        EXAMPLES,
        '--from',
        'shop/nope',
        '--to',
        'shop/db',
        '--protocol',
        'TCP',
        '--port',
        '1',
      ]),
      [2, 'TraceUnknownPod'],
    );
    assert.deepEqual(
      await err(['trace', '-f', EXAMPLES, '--from', 'shop/web', '--to', 'shop/db', '--protocol', 'TCP']),
      [2, 'TraceBadFlow'],
    );
    assert.deepEqual(
      await err([
        'trace',
        '-f',
        EXAMPLES,
        '--from',
        'shop/web',
        '--to',
        'shop/db',
        '--protocol',
        'GRE',
        '--port',
        '1',
      ]),
      [2, 'TraceBadFlow'],
    );
    assert.deepEqual(
      await err(['trace', '--from', 'shop/web', '--to', 'shop/db', '--protocol', 'TCP', '--port', '1']),
      [2, 'UsageError'],
    );
    // An NSG that Azure would refuse (priority outside 100..4096) is unusable input too, named by its field.
    const dir = mkdtempSync(join(tmpdir(), 'podnet-trace-'));
    const bad = join(dir, 'nsg.json');
    writeFileSync(
      bad,
      JSON.stringify({
        name: 'bad',
        securityRules: [
          {
            name: 'r',
            priority: 99,
            direction: 'Inbound',
            access: 'Deny',
            protocol: '*',
            sourceAddressPrefix: '*',
            sourcePortRange: '*',
            destinationAddressPrefix: '*',
            destinationPortRange: '*',
          },
        ],
      }),
    );
    const r = await podnet([
      'trace',
      '-f',
      bad,
      '--from',
      '10.0.0.1',
      '--to',
      '10.0.0.2',
      '--protocol',
      'ICMP',
      '-o',
      'json',
    ]);
    rmSync(dir, { recursive: true });
    const e = JSON.parse(r.out).error;
    assert.deepEqual([r.code, e.code], [2, 'InputObjectsInvalid']);
    assert.match(e.message, /priority/);
  });
});

describe('podnet nsg check and podnet plan --nsg', () => {
  it('names each needed flow the NSG blocks, the rule and the rule to add; exit 1', async () => {
    const r = await podnet([
      'nsg',
      'check',
      '-f',
      join(EXAMPLES, 'cluster.yaml'),
      '-f',
      join(EXAMPLES, 'nsg.json'),
      '-o',
      'json',
    ]);
    assert.equal(r.code, 1);
    const { nsgs, blocked } = JSON.parse(r.out);
    assert.deepEqual(nsgs, ['user-nsg']);
    assert.deepEqual(
      blocked.map((b: { flow: string; rule: string; fix: { priority: number } }) => [
        b.flow,
        b.rule,
        b.fix.priority,
      ]),
      [
        ['pod-to-pod sys -> user', 'deny-sys-subnet', 299],
        ['pod-to-pod user -> user', 'deny-sys-subnet', 299],
      ],
    );
    const ok = await podnet(['nsg', 'check', '-f', join(EXAMPLES, 'cluster.yaml')]);
    assert.deepEqual([ok.code, ok.out], [0, 'ok: 0 NSGs let every flow the cluster needs through']);
  });

  it('plan --nsg makes a blocked flow an error of the plan (exit 1)', async () => {
    const r = await podnet([
      'plan',
      '-f',
      join(EXAMPLES, 'cluster.yaml'),
      '--nsg',
      join(EXAMPLES, 'nsg.json'),
      '-o',
      'json',
    ]);
    assert.equal(r.code, 1);
    const report = JSON.parse(r.out);
    assert.equal(report.valid, false);
    assert.deepEqual(
      report.errors.map((e: { code: string; field: string }) => [e.code, e.field]),
      [
        ['NsgBlocksRequiredFlow', '--nsg user-nsg'],
        ['NsgBlocksRequiredFlow', '--nsg user-nsg'],
      ],
    );
    assert.equal(
      (await podnet(['plan', '-f', join(EXAMPLES, 'cluster.yaml')])).code,
      0,
      'valid without the NSG',
    );
  });

  it('a flow to a ClusterIP: the service step and, per endpoint, its verdict; --endpoint follows one', async () => {
    // https://kubernetes.io/docs/reference/networking/virtual-ips/: the client's node DNATs to an endpoint.
    const dir = mkdtempSync(join(tmpdir(), 'podnet-trace-svc-'));
    try {
      writeFileSync(
        join(dir, 'svc.yaml'),
        'apiVersion: v1\nkind: Service\nmetadata: {name: db, namespace: shop}\nspec:\n  clusterIP: 10.0.0.50\n  selector: {app: db}\n  ports: [{name: sql, port: 5432, targetPort: pg}]\n',
      );
      const args = [
        'trace',
        '-f',
        EXAMPLES,
        '-f',
        join(dir, 'svc.yaml'),
        '--protocol',
        'TCP',
        '--port',
        '5432',
      ];
      const r = await podnet([...args, '--from', 'shop/web', '--to', '10.0.0.50', '-o', 'json']);
      assert.equal(r.code, 0, r.out + r.err);
      const j = JSON.parse(r.out);
      assert.equal(j.verdict, 'allow');
      assert.deepEqual(
        j.service.endpoints.map((e: { endpoint: string; pod: string; verdict: string }) => [
          e.endpoint,
          e.pod,
          e.verdict,
        ]),
        [['10.244.1.5:5432', 'shop/db', 'allow']],
      );
      const denied = await podnet([...args, '--from', 'shop/cache', '--to', '10.0.0.50']);
      assert.match(denied.out, /shop\/db port sql: from a pod: the source is kept/);
      assert.match(denied.out, /DENY\s+10\.244\.1\.5:5432\s+shop\/db\s+sys-0\s+kept/);
      assert.match(denied.out, /VERDICT: DENY/);
      const bad = await podnet([
        ...args,
        '--from',
        'shop/web',
        '--to',
        '10.0.0.50',
        '--endpoint',
        '10.9.9.9',
      ]);
      assert.equal(bad.code, 2);
      assert.match(bad.err, /TraceBadFlow/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
