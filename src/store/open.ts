/**
 * Opens the cluster store a `--store` URL names: `sqlite:PATH` (embedded default, one host) or
 * `etcd:URL[,URL...]` (many hosts), optionally with `?prefix=/key/prefix/` for etcd.
 */
import { existsSync } from 'node:fs';
import { PodnetError } from '../errors/index.js';
import { type StoreOptions, clusterNotFound } from './records.js';
import { SqliteStore } from './sqlite.js';
import type { ClusterStore } from './types.js';
import { MemoryVersionedStore } from './versioned-memory.js';
import type { VersionedStore } from './versioned.js';

/** Default etcd key prefix (kept here so parsing a URL does not load the etcd client). */
export const DEFAULT_ETCD_PREFIX = '/podnet/v1/';

export const DEFAULT_STORE_URL = 'sqlite:/var/lib/podnet/cluster.db';

/** The store URL a command uses: its --store flag, else $PODNET_STORE, else the embedded default. */
export function storeUrl(flag?: string): string {
  return flag ?? process.env.PODNET_STORE ?? DEFAULT_STORE_URL;
}

function invalid(url: string, why: string): PodnetError {
  return new PodnetError('InvalidStoreUrl', `store URL "${url}" is not usable: ${why}`, {
    field: '--store',
    hint: 'use sqlite:/path/to/cluster.db or etcd:http://HOST:PORT[,http://HOST:PORT...] (optionally ?prefix=/podnet/v1/)',
  });
}

export interface ParsedStoreUrl {
  kind: 'sqlite' | 'etcd';
  path?: string;
  hosts?: string[];
  prefix?: string;
}

export function parseStoreUrl(url: string): ParsedStoreUrl {
  if (typeof url !== 'string') throw invalid(String(url), 'it is not text');
  if (url.startsWith('sqlite:')) {
    const path = url.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, '');
    if (path.trim() === '') throw invalid(url, 'the file path is missing');
    if (path.includes('\0')) throw invalid(url, 'the file path contains a NUL character');
    return { kind: 'sqlite', path };
  }
  if (url.startsWith('etcd:')) {
    const rest = url.slice('etcd:'.length);
    const q = rest.indexOf('?');
    const [list, query] = q < 0 ? [rest, ''] : [rest.slice(0, q), rest.slice(q + 1)];
    const hosts = list.split(',').map((h) => h.trim());
    if (hosts.length === 0 || hosts.some((h) => h === '')) throw invalid(url, 'an endpoint is empty');
    for (const h of hosts) {
      let u: URL;
      try {
        u = new URL(h);
      } catch {
        throw invalid(url, `"${h}" is not a URL like http://127.0.0.1:2379`);
      }
      // Anything beyond scheme, host and port would be dropped or misread by the client, so it is refused.
      const extra = u.username || u.password || u.search || u.hash || u.pathname.length > 1;
      if ((u.protocol !== 'http:' && u.protocol !== 'https:') || u.port === '' || extra) {
        throw invalid(url, `"${h}" must be http(s)://HOST:PORT`);
      }
    }
    const params = new URLSearchParams(query);
    // A misspelt option (?prefx=) must not silently fall back to the default prefix, another cluster's keys.
    for (const key of new Set(params.keys())) {
      if (key !== 'prefix') throw invalid(url, `unknown option "${key}" (the only option is prefix)`);
    }
    if (params.getAll('prefix').length > 1) throw invalid(url, 'the prefix is given more than once');
    const prefix = params.get('prefix') ?? DEFAULT_ETCD_PREFIX;
    if (!prefix.startsWith('/') || !prefix.endsWith('/'))
      throw invalid(url, 'the prefix must start and end with "/"');
    return { kind: 'etcd', hosts, prefix };
  }
  throw invalid(url, 'it must start with sqlite: or etcd:');
}

export async function openStore(url: string, opts: StoreOptions = {}): Promise<ClusterStore> {
  const p = parseStoreUrl(url);
  if (p.kind === 'sqlite') {
    // A read must not leave an empty store behind a mistyped path: no file means no cluster.
    if (opts.create === false && !existsSync(p.path as string)) throw clusterNotFound(url);
    return new SqliteStore(p.path as string, opts);
  }
  // Loaded on demand: the etcd client (gRPC) costs a few hundred ms of start-up that sqlite users skip.
  const { EtcdStore } = await import('./etcd.js');
  const store = new EtcdStore(url, p.hosts as string[], p.prefix as string, opts);
  try {
    await store.ping();
  } catch (e) {
    await store.close();
    throw e;
  }
  return store;
}

/*
 * MERGE POINT (issue 9): a memory-only openVersionedStore, so that `podnet apply|get|delete` and their tests
 * run before the sqlite and etcd versioned backends land. The store engineer's openVersionedStore(url), which
 * opens memory:, sqlite: and etcd: URLs, replaces this block whole; callers need no change.
 */
const memoryStores = new Map<string, MemoryVersionedStore>();

/**
 * Opens the versioned store `url` names. `memory:NAME` is a store in this process, shared by every open of
 * the same NAME (so several in-process CLI calls see one store); closing a handle leaves the store alive.
 */
export async function openVersionedStore(url: string): Promise<VersionedStore> {
  if (!url.startsWith('memory:')) {
    throw new PodnetError(
      'InvalidStoreUrl',
      `store URL "${url}" is not usable for cluster objects in this build`,
      {
        field: '--store',
        hint: 'use memory:NAME (the sqlite and etcd object stores are not merged yet)',
      },
    );
  }
  let store = memoryStores.get(url);
  if (!store) {
    store = new MemoryVersionedStore();
    memoryStores.set(url, store);
  }
  const s = store;
  return {
    url,
    get: (key) => s.get(key),
    list: (prefix) => s.list(prefix),
    txn: (compares, ops) => s.txn(compares, ops),
    grantLease: (ttl) => s.grantLease(ttl),
    keepAlive: (lease) => s.keepAlive(lease),
    revokeLease: (lease) => s.revokeLease(lease),
    watch: (prefix, onUpdate, opts) => s.watch(prefix, onUpdate, opts),
    close: async () => {},
  };
}
