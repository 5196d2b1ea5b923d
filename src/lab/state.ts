/** Lab and VNet state files: JSON under LAB_ROOT, replaced atomically (write + rename). */
import {
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { PodnetError } from '../errors/index.js';
import type { Vnet } from '../vnet/model.js';
import type { LabState } from './model.js';
import { LAB_ROOT, checkLabName, clusterDir, vnetStatePath } from './names.js';

function writeJson(path: string, value: unknown): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(value, null, 2)}\n`);
  renameSync(tmp, path);
}

function readJson<T>(path: string): T | null {
  if (!existsSync(path)) return null;
  return JSON.parse(readFileSync(path, 'utf8')) as T;
}

export function labStatePath(name: string): string {
  return join(clusterDir(name), 'lab.json');
}

export function readLab(name: string): LabState | null {
  return readJson<LabState>(labStatePath(name));
}

export function requireLab(name: string): LabState {
  const s = readLab(name);
  if (!s) {
    throw new PodnetError('LabNotFound', `no lab named "${name}" on this host`, {
      field: '--name',
      hint: 'podnet lab status lists the labs; podnet lab up --name NAME creates one',
    });
  }
  return s;
}

export function writeLab(state: LabState): void {
  writeJson(labStatePath(state.name), state);
}

export function removeLabDir(name: string): void {
  rmSync(clusterDir(name), { recursive: true, force: true });
}

export function readVnet(name: string): Vnet | null {
  return readJson<Vnet>(vnetStatePath(name));
}

export function writeVnet(vnet: Vnet): void {
  writeJson(vnetStatePath(vnet.name), vnet);
}

export function removeVnetState(name: string): void {
  rmSync(vnetStatePath(name), { force: true });
}

/** Names of the labs on this host (folders with a state file), sorted. */
export function listLabs(): string[] {
  if (!existsSync(LAB_ROOT)) return [];
  return readdirSync(LAB_ROOT, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(LAB_ROOT, d.name, 'lab.json')))
    .map((d) => d.name)
    .sort();
}

/**
 * The lab a command means: `--name` when given; otherwise the only lab on the host. Refuses to guess
 * between several.
 */
export function resolveLabName(given: string | undefined): string {
  if (given) return checkLabName(given);
  const labs = listLabs();
  if (labs.length === 1) return labs[0];
  throw new PodnetError(
    labs.length === 0 ? 'LabNotFound' : 'LabAmbiguous',
    labs.length === 0
      ? 'no lab is running on this host'
      : `several labs run on this host: ${labs.join(', ')}`,
    {
      field: '--name',
      hint: labs.length === 0 ? 'start one with podnet lab up' : 'say which with --name',
    },
  );
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * An exclusive lock file holding the owner's pid, across processes; a lock whose owner died (a crashed or
 * killed lab command) is taken over. `what` names the locked thing in the error.
 */
async function withLockFile<T>(
  path: string,
  what: { field: string; text: string },
  fn: () => Promise<T>,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<T> {
  mkdirSync(LAB_ROOT, { recursive: true });
  const until = Date.now() + timeoutMs;
  for (;;) {
    signal?.throwIfAborted();
    try {
      writeFileSync(path, String(process.pid), { flag: 'wx' });
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const owner = Number(readFileSync(path, 'utf8').trim());
      if (!(owner > 0 && alive(owner))) {
        rmSync(path, { force: true });
        continue;
      }
      if (Date.now() > until) {
        throw new PodnetError('LabBusy', `${what.text} is being changed by process ${owner}`, {
          field: what.field,
          hint: 'wait for that lab command to finish, then try again',
        });
      }
      await sleep(100);
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(path, { force: true });
  }
}

/** Serializes changes to one VNet (clusters joining, leaving, growing); `signal` gives up waiting. */
export async function withVnetLock<T>(
  vnet: string,
  fn: () => Promise<T>,
  timeoutMs = 120_000,
  signal?: AbortSignal,
): Promise<T> {
  const text = `VNet "${checkLabName(vnet, '--vnet')}"`;
  return withLockFile(`${vnetStatePath(vnet)}.lock`, { field: '--vnet', text }, fn, timeoutMs, signal);
}

/** Serializes commands that change one lab (pods, scale, update, restart, down). */
export async function withLabLock<T>(name: string, fn: () => Promise<T>, timeoutMs = 120_000): Promise<T> {
  const text = `lab "${checkLabName(name)}"`;
  return withLockFile(join(LAB_ROOT, `${name}.lock`), { field: '--name', text }, fn, timeoutMs);
}

/**
 * `lab down` asks a `lab up` of the same lab to stop (a file holding down's pid, next to the lab lock): up holds
 * the lab lock while it builds, so down waits for it, and up gives up at its next step instead of building on
 * while down removes (which left orphan agents and namespaces behind, issue 14).
 */
function removalPath(name: string): string {
  return join(LAB_ROOT, `${checkLabName(name)}.removing`);
}

export function requestRemoval(name: string): void {
  mkdirSync(LAB_ROOT, { recursive: true });
  writeFileSync(removalPath(name), String(process.pid));
}

/** Withdraws this process's request (a later `down`'s request stays). */
export function clearRemoval(name: string): void {
  if (removalRequest(name)?.pid === process.pid) rmSync(removalPath(name), { force: true });
}

function removalRequest(name: string): { pid: number; at: number } | null {
  try {
    const path = removalPath(name);
    return { pid: Number(readFileSync(path, 'utf8').trim()), at: statSync(path).mtimeMs };
  } catch {
    return null;
  }
}

/**
 * A signal that aborts with `LabRemoved` once a live `lab down` asks for the lab (looked at every 100 ms). Only
 * a request made since the watch began counts: an older one is a `down` that ran before this `up` took the lock.
 */
export function watchRemoval(name: string): { signal: AbortSignal; stop(): void } {
  const controller = new AbortController();
  const since = Date.now();
  const look = () => {
    const r = removalRequest(name);
    if (!r || r.at < since || !(r.pid > 0 && alive(r.pid))) return;
    clearInterval(timer);
    controller.abort(
      new PodnetError(
        'LabRemoved',
        `lab "${name}" was removed by podnet lab down (pid ${r.pid}) while up built it`,
        {
          field: '--name',
          hint: 'lab down removes everything up had made; run podnet lab up again for a new lab',
        },
      ),
    );
  };
  const timer = setInterval(look, 100);
  return { signal: controller.signal, stop: () => clearInterval(timer) };
}
