/**
 * CLI conventions on every command (kubectl's, https://kubernetes.io/docs/reference/kubectl/#output-options):
 * examples in every --help, -o table|wide|json|yaml with apiVersion and kind on the commands that print data,
 * and shell completion that a real bash runs.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { Command } from 'commander';
import { buildProgram } from '../main.js';
import { EXIT } from '../output.js';
import { bashCompletion, completionTable } from './completion.js';
import { runMain as run } from './testing/run-cli.js';

const dir = mkdtempSync(join(tmpdir(), 'podnet-conventions-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function visible(cmd: Command, path: string[] = []): string[][] {
  return cmd.commands
    .filter((c) => !(c as unknown as { _hidden?: boolean })._hidden)
    .flatMap((c) => [[...path, c.name()], ...visible(c, [...path, c.name()])]);
}

const program = buildProgram({ io: { out: () => {}, err: () => {} }, exitCode: 0 });

describe('podnet CLI conventions', () => {
  it('every command, group and the root has examples in its --help', async () => {
    const paths = [[], ...visible(program)];
    assert.ok(paths.length > 30, `${paths.length} commands`);
    for (const path of paths) {
      const r = await run([...path, '--help']);
      assert.equal(r.code, EXIT.ok, path.join(' '));
      assert.match(r.out, /\nExamples?:\n {2}\S/, `podnet ${path.join(' ')} --help has no examples`);
    }
  });

  it('every command with -o takes table, wide, json and yaml (map: html, svg; sysdump: the archive) and says so', () => {
    const withOutput = visible(program).filter((p) => {
      let c: Command = program;
      for (const w of p) c = c.commands.find((x) => x.name() === w) as Command;
      return c.options.some((o) => o.long === '--output');
    });
    assert.ok(withOutput.length > 20);
    for (const p of withOutput) {
      let c: Command = program;
      for (const w of p) c = c.commands.find((x) => x.name() === w) as Command;
      const help = c.options.find((o) => o.long === '--output')?.description ?? '';
      // The issue fixes sysdump's -o as the archive it writes (`podnet sysdump -o FILE.tar.gz`, as cilium's).
      const want =
        p[0] === 'map' ? /html or svg/ : p[0] === 'sysdump' ? /FILE\.tar\.gz/ : /table, wide, json or yaml/;
      assert.match(help, want, `podnet ${p.join(' ')} -o: ${help}`);
    }
  });

  it('JSON and YAML carry apiVersion and kind and the input field names (dnsServiceIP)', async () => {
    const store = `sqlite:${join(dir, 'c.db')}`;
    const created = await run([
      'cluster',
      'create',
      '-f',
      'examples/basic.yaml',
      '--store',
      store,
      '-o',
      'json',
    ]);
    assert.equal(created.code, 0, created.err);
    const c = JSON.parse(created.out);
    assert.deepEqual([c.apiVersion, c.kind, c.dnsServiceIP], ['podnet.io/v1alpha1', 'Cluster', '10.0.0.10']);
    const y = await run(['cluster', 'show', '--store', store, '-o', 'yaml']);
    assert.match(y.out, /^apiVersion: podnet.io\/v1alpha1\nkind: Cluster\n/);
    assert.match(y.out, /\ndnsServiceIP: 10\.0\.0\.10\n/);
    // The stored profile as it is written: cluster show -o yaml > p.yaml; podnet plan -f p.yaml takes it.
    assert.match(y.out, /\nprofile:\n {2}apiVersion: podnet.io\/v1alpha1\n {2}kind: ClusterProfile\n/);
    assert.match(y.out, /\n {4}dnsServiceIP: 10\.0\.0\.10\n/);
    const plan = JSON.parse((await run(['plan', '-f', 'examples/basic.yaml', '-o', 'json'])).out);
    assert.deepEqual([plan.apiVersion, plan.kind, plan.valid], ['podnet.io/v1alpha1', 'PlanReport', true]);
    const v = JSON.parse((await run(['version', '-o', 'json'])).out);
    assert.equal(v.kind, 'Version');
    const blocks = await run(['ipam', 'blocks', '--store', store, '-o', 'wide', '--no-headers']);
    assert.equal(blocks.code, 0, blocks.err);
    assert.equal(blocks.out.trim(), '', 'no blocks and no header line');
  });

  it('bash completes commands, subcommands, flags and output formats from the real command tree', () => {
    const script = join(dir, 'podnet.bash');
    const complete = (words: string[]) => {
      const r = spawnSync(
        'bash',
        [
          '-c',
          `source "$1"; COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _podnet; echo "\${COMPREPLY[@]}"`,
          'x',
          script,
        ],
        { encoding: 'utf8', input: '' },
      );
      assert.equal(r.status, 0, r.stderr);
      return r.stdout.trim().split(' ');
    };
    writeFileSync(script, bashCompletion(program));
    assert.deepEqual(complete(['podnet', 'ip']), ['ipam']);
    assert.ok(complete(['podnet', 'ipam', '']).includes('show'));
    assert.deepEqual(complete(['podnet', 'ipam', 'show', '--b']), ['--blocks']);
    assert.deepEqual(complete(['podnet', 'plan', '-o', 'y']), ['yaml']);
    assert.ok(complete(['podnet', '']).includes('completion'));
    assert.ok(!completionTable(program).some(([p]) => p.includes('kubelet')), 'hidden commands stay hidden');
  });

  it('zsh gets the same function through bashcompinit; an unknown shell is a usage error', async () => {
    const z = await run(['completion', 'zsh']);
    assert.match(z.out, /^#compdef podnet\n/);
    assert.match(z.out, /bashcompinit/);
    assert.match(z.out, /complete -F _podnet podnet/);
    const bad = await run(['completion', 'fish', '-o', 'json']);
    assert.equal(bad.code, 2);
  });
});
