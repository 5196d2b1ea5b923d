/**
 * Opens the store a `--store` URL names: `sqlite:PATH` (embedded default, one host),
 * `etcd:URL[,URL...]` (many hosts), optionally with `?prefix=/key/prefix/` and `&credentials=/abs/file` (TLS
 * client certificate, see credentials.ts), or `memory:NAME` (a named store in this process, for tests).
 */
import { existsSync } from 'node:fs';
import { PodnetError } from '../errors/index.js';
import { KvClusterStore } from './cluster-store.js';
import { credentialsSource, loadCredentials } from './credentials.js';
import { migrateSqliteV1 } from './migrate-v1.js';
import { type StoreOptions, clusterNotFound } from './records.js';
import type { ClusterStore } from './types.js';
import { storeClosed } from './versioned-errors.js';
import { MemoryVersionedStore } from './versioned-memory.js';
import { SqliteVersionedStore } from './versioned-sqlite.js';
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
    hint: 'use sqlite:/path/to/cluster.db or etcd:https://HOST:PORT[,https://HOST:PORT...] (optionally ?prefix=/podnet/v1/&credentials=/etc/podnet/store.yaml), or memory:NAME in tests',
  });
}

export interface ParsedStoreUrl {
  kind: 'sqlite' | 'etcd' | 'memory';
  path?: string;
  /** memory: the store's name in this process. */
  name?: string;
  hosts?: string[];
  prefix?: string;
  /** etcd: the endpoints speak TLS (https:, unixs:). */
  tls?: boolean;
  /** etcd: the credentials file the URL names (`?credentials=/abs/path`), see credentials.ts. */
  credentials?: string;
}

/** An etcd endpoint: `http(s)://HOST:PORT`, or etcd's own `unix(s):///abs/path` for a unix socket. */
function checkEndpoint(url: string, h: string): void {
  let u: URL;
  try {
    u = new URL(h);
  } catch {
    throw invalid(url, `"${h}" is not a URL like http://127.0.0.1:2379`);
  }
  if (u.protocol === 'unix:' || u.protocol === 'unixs:') {
    if (u.host !== '' || !u.pathname.startsWith('/') || u.search || u.hash)
      throw invalid(url, `"${h}" must be ${u.protocol}///absolute/path/of/the/socket`);
    return;
  }
  // Anything beyond scheme, host and port would be dropped or misread by the client, so it is refused.
  const extra = u.username || u.password || u.search || u.hash || u.pathname.length > 1;
  if ((u.protocol !== 'http:' && u.protocol !== 'https:') || u.port === '' || extra) {
    throw invalid(url, `"${h}" must be http(s)://HOST:PORT`);
  }
}

export const endpointUsesTls = (h: string): boolean => h.startsWith('https:') || h.startsWith('unixs:');

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
    for (const h of hosts) checkEndpoint(url, h);
    const tls = hosts.map(endpointUsesTls);
    // One client, one way of talking: a plain endpoint beside TLS ones would carry the same requests unprotected.
    if (tls.some((t) => t !== tls[0])) throw invalid(url, 'endpoints mix TLS (https, unixs) and plain ones');
    const params = new URLSearchParams(query);
    // A misspelt option (?prefx=) must not silently fall back to the default prefix, another cluster's keys.
    for (const key of new Set(params.keys())) {
      if (key !== 'prefix' && key !== 'credentials')
        throw invalid(url, `unknown option "${key}" (the options are prefix and credentials)`);
      if (params.getAll(key).length > 1) throw invalid(url, `the ${key} is given more than once`);
    }
    const prefix = params.get('prefix') ?? DEFAULT_ETCD_PREFIX;
    if (!prefix.startsWith('/') || !prefix.endsWith('/'))
      throw invalid(url, 'the prefix must start and end with "/"');
    const credentials = params.get('credentials') ?? undefined;
    if (credentials !== undefined && !credentials.startsWith('/'))
      throw invalid(url, 'the credentials file must be an absolute path');
    return { kind: 'etcd', hosts, prefix, tls: tls[0], ...(credentials ? { credentials } : {}) };
  }
  if (url.startsWith('memory:')) {
    const name = url.slice('memory:'.length);
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name))
      throw invalid(url, 'the name must be letters, digits, ".", "_", "-"');
    return { kind: 'memory', name };
  }
  throw invalid(url, 'it must start with sqlite:, etcd: or memory:');
}

/** Named in-process stores: every `memory:NAME` opened in this process shares one. */
const memoryStores = new Map<string, MemoryVersionedStore>();

/**
 * Opens the versioned store a URL names (the storage every podnet record goes through). A `memory:NAME`
 * store lives as long as the process: closing one client of it ends only that client's watches.
 */
export async function openVersionedStore(url: string, opts: StoreOptions = {}): Promise<VersionedStore> {
  const p = parseStoreUrl(url);
  if (p.kind === 'memory') {
    const name = p.name as string;
    let shared = memoryStores.get(name);
    if (!shared) {
      if (opts.create === false) throw storeNotFound(url);
      shared = new MemoryVersionedStore();
      memoryStores.set(name, shared);
    }
    return new MemoryClient(url, shared);
  }
  if (p.kind === 'sqlite') {
    // A read must not leave an empty store behind a mistyped path.
    if (opts.create === false && !existsSync(p.path as string)) throw storeNotFound(url);
    return new SqliteVersionedStore(p.path as string, { migrate: migrateSqliteV1 });
  }
  // Loaded on demand: the etcd client (gRPC) costs a few hundred ms of start-up that sqlite users skip.
  const source = credentialsSource(p.credentials, process.env);
  if (!p.tls && source && (source.ca || source.cert || source.user)) {
    // Credentials over plain TCP would send the password in clear, or silently not use the certificate.
    throw invalid(
      url,
      `${source.from} names TLS files or a user, but the endpoints are plain (use https:// or unixs://)`,
    );
  }
  const credentials = source ? loadCredentials(source) : undefined;
  const { EtcdVersionedStore } = await import('./versioned-etcd.js');
  const store = new EtcdVersionedStore(url, p.hosts as string[], p.prefix as string, {
    tls: p.tls === true,
    ...(credentials ? { credentials } : {}),
  });
  try {
    await store.ping();
  } catch (e) {
    await store.close();
    throw e;
  }
  return store;
}

function storeNotFound(url: string): PodnetError {
  return new PodnetError('StoreNotFound', `there is no store at ${url}`, {
    field: '--store',
    hint: 'check the --store URL (or $PODNET_STORE); a store is created by the first command that writes to it',
  });
}

/** One client of a named memory store: its own watches, which its close() ends; the data stays. */
class MemoryClient implements VersionedStore {
  private readonly stops = new Set<() => void>();
  private closed = false;

  constructor(
    readonly url: string,
    private readonly shared: MemoryVersionedStore,
  ) {}

  private use(): MemoryVersionedStore {
    if (this.closed) throw storeClosed(this.url);
    return this.shared;
  }
  get: VersionedStore['get'] = async (key) => this.use().get(key);
  list: VersionedStore['list'] = async (prefix) => this.use().list(prefix);
  txn: VersionedStore['txn'] = async (compares, ops) => this.use().txn(compares, ops);
  grantLease: VersionedStore['grantLease'] = async (ttl) => this.use().grantLease(ttl);
  keepAlive: VersionedStore['keepAlive'] = async (lease) => this.use().keepAlive(lease);
  revokeLease: VersionedStore['revokeLease'] = async (lease) => this.use().revokeLease(lease);
  watch: VersionedStore['watch'] = async (prefix, onUpdate, opts) => {
    const stop = await this.use().watch(prefix, onUpdate, opts);
    const once = () => {
      this.stops.delete(once);
      stop();
    };
    this.stops.add(once);
    return once;
  };
  async close(): Promise<void> {
    this.closed = true;
    for (const stop of [...this.stops]) stop();
  }
}

/**
 * Opens the cluster store a URL names: the cluster record and block leases over the versioned store. With
 * `create: false` a missing sqlite file or memory store is ClusterNotFound (no file means no cluster).
 */
export async function openStore(url: string, opts: StoreOptions = {}): Promise<ClusterStore> {
  try {
    return new KvClusterStore(await openVersionedStore(url, opts), opts);
  } catch (e) {
    if (e instanceof PodnetError && e.code === 'StoreNotFound') throw clusterNotFound(url);
    throw e;
  }
}
