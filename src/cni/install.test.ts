import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Command } from 'commander';
import { registerCni } from '../cli/commands/cni.js';
import type { CliContext } from '../cli/main.js';
import { PodnetError } from '../errors/index.js';
import { installCni, renderConflist, renderShim } from './install.js';

describe('install-cni', () => {
  it('renders the conflist runtimes accept (1.0.0 plus cniVersions)', () => {
    assert.deepEqual(JSON.parse(renderConflist('podnet')), {
      cniVersion: '1.0.0',
      cniVersions: ['1.0.0', '1.1.0'],
      name: 'podnet',
      plugins: [{ type: 'podnet-cni' }],
    });
  });

  it('writes an executable shim and the conflist, then changes nothing on a second run', () => {
    const dir = mkdtempSync(join(tmpdir(), 'podnet-install-'));
    try {
      const o = {
        binDir: join(dir, 'bin'),
        confDir: join(dir, 'net.d'),
        socket: '/run/x.sock',
        name: 'lab1',
        confFile: '10-podnet.conflist',
      };
      const first = installCni(o);
      assert.deepEqual(first.changed, [join(dir, 'bin/podnet-cni'), join(dir, 'net.d/10-podnet.conflist')]);
      assert.equal(statSync(first.plugin).mode & 0o777, 0o755);
      assert.match(readFileSync(first.plugin, 'utf8'), /^#!\/bin\/sh/);
      // The shim streams stdin without parsing it: the socket is written into the installed copy.
      assert.match(readFileSync(first.plugin, 'utf8'), /^sock='\/run\/x\.sock' # /m);
      assert.equal(readFileSync(first.plugin, 'utf8'), renderShim('/run/x.sock'));
      assert.deepEqual(installCni(o).changed, []);
      assert.deepEqual(installCni({ ...o, socket: '/run/y.sock' }).changed, [first.plugin]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a bad name, a relative socket or a file runtimes would not read', () => {
    const o = {
      binDir: '/nonexistent/b',
      confDir: '/nonexistent/c',
      socket: '/run/x.sock',
      name: 'podnet',
      confFile: '10-podnet.conflist',
    };
    const code = (over: Partial<typeof o>) => {
      try {
        installCni({ ...o, ...over });
      } catch (e) {
        assert.ok(e instanceof PodnetError);
        return `${e.code} ${e.field}`;
      }
      return 'no error';
    };
    assert.equal(code({ name: 'bad name' }), 'InvalidCniNetworkName --name');
    assert.equal(code({ socket: 'run/x.sock' }), 'InvalidAgentSocket --socket');
    // It becomes a single-quoted sh word in the shim.
    assert.equal(code({ socket: "/run/x'; rm -rf /'.sock" }), 'InvalidAgentSocket --socket');
    assert.equal(code({ socket: '/run/x\n.sock' }), 'InvalidAgentSocket --socket');
    assert.equal(code({ confFile: 'podnet.json' }), 'InvalidConfFile --conf-file');
  });

  it('the command prints the files as a table or JSON', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'podnet-install-'));
    const out: string[] = [];
    const ctx: CliContext = { io: { out: (t) => out.push(t), err: () => {} }, exitCode: -1 };
    const program = new Command().exitOverride();
    registerCni(program, ctx);
    try {
      const args = ['install-cni', '--bin-dir', join(dir, 'b'), '--conf-dir', join(dir, 'c')];
      await program.parseAsync(args, { from: 'user' });
      assert.match(out[0], /^FILE\s+STATE\n.*podnet-cni\s+written\n.*10-podnet.conflist\s+written$/);
      await program.parseAsync([...args, '-o', 'json'], { from: 'user' });
      assert.deepEqual(JSON.parse(out[1]).changed, []);
      assert.equal(ctx.exitCode, 0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
