/**
 * `lab down` while `lab up` runs (issue 14, fault 2: an orphan agent and node namespace in 3 of 13 tries, and up
 * failing with KernelCommandFailed or LabTimeout). `up` runs as the real CLI process; `down` is called the moment
 * up reports a step, at three points of the build. Up must stop with LabRemoved, and nothing of the lab may be
 * left: no process (by the pids the lab recorded or printed, and by its folder), namespace or file.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { listNetns } from '../kernel/netns.js';
import { labDown } from './lab.js';
import { LAB_ROOT, clusterDir, vnetStatePath } from './names.js';
import { findProcesses } from './processes.js';
import { readLab } from './state.js';

const bin = fileURLToPath(new URL('../../../bin/podnet.js', import.meta.url));
const made: string[] = [];
const ups: ChildProcess[] = [];

after(async () => {
  for (const up of ups) if (up.exitCode === null) up.kill('SIGKILL');
  // Also when the folder is gone: down sweeps namespaces by the lab's prefix and processes by its folder.
  for (const name of made) await labDown(name).catch(() => {});
});

/** True while `pid` runs; a zombie (killed, not yet reaped by its parent or init) has stopped. */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^[ZX]/.test(stat.slice(stat.lastIndexOf(')') + 2));
  } catch {
    return false;
  }
}

/** Resolves with `p` or rejects after `ms`, so no step of this test can hang. */
function bounded<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no end within ${ms} ms`)), ms);
  });
  return Promise.race([p, limit]).finally(() => clearTimeout(timer));
}

describe('lab down while lab up runs', { concurrency: false }, () => {
  // Where up is when down comes: right after the VNet exists, once the fabric router runs, and while the first
  // node's agent starts (the steps that left an agent and a node namespace behind).
  for (const [when, step] of [
    ['the VNet exists', /lab: vnet \S+: namespace/],
    ['the fabric router runs', /lab: vnet: fabric router started/],
    ['the first agent starts', /lab: node \S+: .* agent pid \d+/],
  ] as const) {
    it(`up stops with LabRemoved and nothing is left when down comes as ${when}`, async () => {
      const name = `cf${randomBytes(2).toString('hex')}`;
      made.push(name);
      const up = spawn(
        process.execPath,
        [bin, 'lab', 'up', '--name', name, '--nodes', '2', '--pods-per-node', '1'],
        {
          stdio: ['ignore', 'ignore', 'pipe'],
        },
      );
      ups.push(up);
      let err = '';
      const exited = new Promise<number>((resolve) => up.on('exit', (code) => resolve(code ?? 128)));
      await bounded(
        new Promise<void>((resolve, reject) => {
          up.stderr?.on('data', (d: Buffer) => {
            err += d.toString();
            if (step.test(err)) resolve();
          });
          exited.then(() => reject(new Error(`lab up ended before the step:\n${err}`)));
        }),
        90_000,
        'lab up reaching the step',
      );
      // What the lab recorded so far (the rest is found by its folder below).
      const state = readLab(name);
      const recorded = [state?.fabricPid, ...(state?.nodes.map((n) => n.agentPid) ?? [])].filter(
        (p): p is number => p !== undefined,
      );
      const down = await bounded(labDown(name), 90_000, 'lab down');
      assert.ok(down.removed.length > 0, 'down removed what up had made');
      const code = await bounded(exited, 30_000, 'lab up after down');
      assert.equal(code, 1, err);
      assert.match(err, /LabRemoved/, err);
      assert.doesNotMatch(err, /KernelCommandFailed|LabTimeout|LabCniFailed/, err);

      const printed = [...err.matchAll(/agent pid (\d+)/g)].map((m) => Number(m[1]));
      assert.deepEqual(
        [...new Set([...recorded, ...printed])].filter(running),
        [],
        'no process the lab started still runs',
      );
      assert.deepEqual(findProcesses(`${clusterDir(name)}/`), [], 'no process names the lab folder');
      assert.deepEqual(
        (await listNetns()).filter((n) => n.startsWith(`pl-${name}-`) || n.startsWith(`plv-${name}`)),
        [],
        'no namespace of the lab',
      );
      for (const file of [
        clusterDir(name),
        vnetStatePath(name),
        `${vnetStatePath(name)}.lock`,
        join(LAB_ROOT, `${name}.lock`),
        join(LAB_ROOT, `${name}.removing`),
      ]) {
        assert.equal(existsSync(file), false, `${file} is gone`);
      }
    });
  }
});
