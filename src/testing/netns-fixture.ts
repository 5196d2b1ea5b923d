/**
 * Test fixture for kernel tests: uniquely prefixed namespaces that are removed afterwards even when the test
 * fails, plus a sweep by prefix for what a crashed run left. Tests never touch names they did not make.
 */
import { randomBytes } from 'node:crypto';
import { addNetns, deleteNetns, listNetns } from '../kernel/netns.js';

/** A short random prefix such as `pn3fa2`, unique per test run; keep link names under 15 characters. */
export function uniquePrefix(tag = 'pn'): string {
  return `${tag}${randomBytes(2).toString('hex')}`;
}

export interface NetnsScope {
  prefix: string;
  /** Creates `${prefix}-${role}` and remembers it for removal. */
  add(role: string): Promise<string>;
  /** Removes every namespace this scope created (and any left with its prefix). */
  cleanup(): Promise<void>;
}

export function netnsScope(tag = 'pn'): NetnsScope {
  const prefix = uniquePrefix(tag);
  const made: string[] = [];
  return {
    prefix,
    async add(role) {
      const name = `${prefix}-${role}`;
      await addNetns(name);
      made.push(name);
      return name;
    },
    async cleanup() {
      const left = (await listNetns()).filter((n) => n.startsWith(`${prefix}-`));
      for (const n of new Set([...made, ...left])) await deleteNetns(n);
    },
  };
}

/** Runs `fn` with a fresh scope and always cleans up. */
export async function withNetns<T>(tag: string, fn: (scope: NetnsScope) => Promise<T>): Promise<T> {
  const scope = netnsScope(tag);
  try {
    return await fn(scope);
  } finally {
    await scope.cleanup();
  }
}
