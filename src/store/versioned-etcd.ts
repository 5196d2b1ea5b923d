/**
 * The versioned store over etcd v3 (npm etcd3 against etcd 3.4), for clusters of many hosts. The contract of
 * versioned.ts is etcd's own, so this is a thin mapping: keys live under the store's prefix (default
 * `/podnet/v1/`), revisions are etcd's main revisions, a transaction is one etcd Txn whose failure branch
 * reads every compared key (so a lost race costs no second round trip), leases are etcd leases, and a watch
 * is an etcd watch from a start revision; when etcd has compacted that revision away, the watch starts over
 * with a snapshot and goes on from it.
 */
import {
  ClientClosedError,
  Etcd3,
  EtcdAuthenticationFailedError,
  EtcdInvalidAuthTokenError,
  EtcdLeaseInvalidError,
  EtcdPermissionDeniedError,
  type IKeyValue,
  type Namespace,
  type Watcher,
} from 'etcd3';
import { PodnetError } from '../errors/index.js';
import type { StoreCredentials } from './credentials.js';
import { diagnoseTls } from './tls-diagnosis.js';
import { leaseNotFound, storeClosed } from './versioned-errors.js';
import type {
  Compare,
  KeyValue,
  Lease,
  TxnOp,
  TxnResult,
  VersionedStore,
  WatchOptions,
  WatchUpdate,
} from './versioned.js';

/** Deadline of one etcd call: a dead member must fail the call, not hang the agent. */
export const CALL_TIMEOUT_MS = 5_000;
/** Wait before a watch that etcd ended (or could not restart) lists and watches again. */
const REWATCH_MS = 200;

type Event = Extract<WatchUpdate, { type: 'events' }>['events'][number];

/** The first key after every key starting with `prefix`, byte-wise (etcd's range end for a prefix). */
function rangeEnd(prefix: Buffer): Buffer {
  for (let i = prefix.length - 1; i >= 0; i--) {
    if (prefix[i] < 0xff) {
      const end = Buffer.from(prefix.subarray(0, i + 1));
      end[i]++;
      return end;
    }
  }
  return Buffer.from([0]); // every key
}

/** How the client talks to its endpoints: TLS or not, and the credentials it shows (credentials.ts). */
export interface EtcdConnection {
  tls: boolean;
  credentials?: StoreCredentials;
}

/** gRPC's target for an endpoint: etcd's `unixs:///path` is gRPC's `unix:///path` over TLS. */
const grpcTarget = (h: string) => h.replace(/^unixs?:/, 'unix:');

export class EtcdVersionedStore implements VersionedStore {
  readonly url: string;
  readonly client: Etcd3;
  private readonly prefix: Buffer;
  /** For watches only (one watch stream per namespace); reads and transactions prefix keys themselves. */
  private readonly ns: Namespace;
  private closed = false;

  constructor(
    url: string,
    private readonly hosts: string[],
    prefix: string,
    private readonly connection: EtcdConnection = { tls: false },
  ) {
    this.url = url;
    this.prefix = Buffer.from(prefix);
    const { tls, auth } = connection.credentials ?? {};
    this.client = new Etcd3({
      hosts: hosts.map(grpcTarget),
      dialTimeout: CALL_TIMEOUT_MS,
      defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + CALL_TIMEOUT_MS }),
      // No root certificate: gRPC's bundled public roots (etcd3's type insists on one, gRPC does not).
      ...(connection.tls ? { credentials: (tls ?? {}) as { rootCertificate: Buffer } } : {}),
      ...(auth ? { auth } : {}),
    });
    this.ns = this.client.namespace(prefix);
  }

  /** Maps client failures: an ended lease, a closed client, and anything else as StoreUnreachable. */
  private async guard<T>(what: string, fn: () => Promise<T>, lease?: string): Promise<T> {
    if (this.closed) throw storeClosed(this.url);
    try {
      return await fn();
    } catch (e) {
      if (e instanceof PodnetError) throw e;
      if (e instanceof EtcdLeaseInvalidError) throw leaseNotFound(lease ?? 'of this transaction');
      if (e instanceof ClientClosedError || this.closed) throw storeClosed(this.url);
      if (e instanceof EtcdAuthenticationFailedError || e instanceof EtcdInvalidAuthTokenError) {
        throw new PodnetError('StoreAuthFailed', `etcd store ${this.url}: ${what}: ${(e as Error).message}`, {
          field: 'user',
          hint: `check the etcd user and password of ${this.connection.credentials?.from ?? 'the store credentials'}`,
          cause: e,
        });
      }
      if (e instanceof EtcdPermissionDeniedError) {
        throw new PodnetError(
          'StorePermissionDenied',
          `etcd store ${this.url}: ${what}: ${(e as Error).message}`,
          {
            field: 'user',
            hint: "the etcd user (or the client certificate's common name) needs a role with readwrite on the store prefix (docs/store.md)",
            cause: e,
          },
        );
      }
      throw new PodnetError(
        'StoreUnreachable',
        `etcd store ${this.url}: ${what} failed: ${(e as Error).message}`,
        {
          field: '--store',
          hint: 'check that the etcd members are running and reachable; the request is safe to retry',
          retryable: true,
          cause: e,
        },
      );
    }
  }

  private full(key: string): Buffer {
    return Buffer.concat([this.prefix, Buffer.from(key)]);
  }

  private toKv(kv: IKeyValue): KeyValue {
    return {
      key: kv.key.subarray(this.prefix.length).toString(),
      value: kv.value.toString(),
      createRevision: Number(kv.create_revision),
      modRevision: Number(kv.mod_revision),
      lease: kv.lease === '0' || !kv.lease ? null : String(kv.lease),
    };
  }

  /** Fails fast when no endpoint answers (openStore reports it at once instead of at the first real call). */
  async ping(): Promise<void> {
    try {
      await this.guard('connecting', () => this.client.kv.range({ key: this.full('cluster') }));
    } catch (e) {
      // gRPC reports every TLS failure as "unavailable"; one plain handshake says which certificate is wrong.
      if (!(e instanceof PodnetError) || e.code !== 'StoreUnreachable' || !this.connection.tls) throw e;
      for (const host of this.hosts) {
        const found = await diagnoseTls(this.url, host, this.connection.credentials);
        if (found) throw found;
      }
      throw e;
    }
  }

  async get(key: string): Promise<KeyValue | null> {
    return this.guard(`reading ${key}`, async () => {
      const res = await this.client.kv.range({ key: this.full(key) });
      return res.kvs[0] ? this.toKv(res.kvs[0]) : null;
    });
  }

  async list(prefix: string): Promise<{ revision: number; items: KeyValue[] }> {
    return this.guard(`listing ${prefix}`, async () => {
      const key = this.full(prefix);
      const res = await this.client.kv.range({ key, range_end: rangeEnd(key) });
      return { revision: Number(res.header.revision), items: res.kvs.map((kv) => this.toKv(kv)) };
    });
  }

  async txn(compares: Compare[], ops: TxnOp[]): Promise<TxnResult> {
    const lease = ops.find((o) => o.type === 'put' && o.lease) as { lease: string } | undefined;
    return this.guard(
      'a transaction',
      async () => {
        const res = await this.client.kv.txn({
          compare: compares.map((c) => ({
            key: this.full(c.key),
            target: 'Mod',
            result: 'Equal',
            mod_revision: c.modRevision,
          })),
          success: ops.map((op) =>
            op.type === 'put'
              ? {
                  request_put: { key: this.full(op.key), value: Buffer.from(op.value), lease: op.lease ?? 0 },
                }
              : { request_delete_range: { key: this.full(op.key) } },
          ),
          failure: compares.map((c) => ({ request_range: { key: this.full(c.key) } })),
        });
        const revision = Number(res.header.revision);
        if (res.succeeded) return { succeeded: true, revision, current: [] };
        const current = res.responses.map((r) => {
          const kv = r.response_range.kvs[0];
          return kv ? this.toKv(kv) : null;
        });
        return { succeeded: false, revision, current };
      },
      lease?.lease,
    );
  }

  async grantLease(ttlSeconds: number): Promise<Lease> {
    return this.guard('granting a lease', async () => {
      const res = await this.client.leaseClient.leaseGrant({ TTL: ttlSeconds });
      return { id: String(res.ID), ttlSeconds };
    });
  }

  /** One keepalive on the lease stream (etcd has no unary renewal); TTL 0 in the answer = the lease is gone. */
  async keepAlive(lease: string): Promise<void> {
    await this.guard(
      `renewing lease ${lease}`,
      async () => {
        const stream = await this.client.leaseClient.leaseKeepAlive();
        try {
          const res = await new Promise<{ TTL: string }>((resolve, reject) => {
            const timer = setTimeout(() => reject(new Error('no keepalive answer in time')), CALL_TIMEOUT_MS);
            stream.on('data', (r: { TTL: string }) => {
              clearTimeout(timer);
              resolve(r);
            });
            stream.on('error', (e: unknown) => {
              clearTimeout(timer);
              reject(e);
            });
            stream.write({ ID: lease });
          });
          if (Number(res.TTL) <= 0) throw leaseNotFound(lease);
        } finally {
          stream.end();
        }
      },
      lease,
    );
  }

  async revokeLease(lease: string): Promise<void> {
    await this.guard(`revoking lease ${lease}`, async () => {
      try {
        await this.client.leaseClient.leaseRevoke({ ID: lease });
      } catch (e) {
        if (!(e instanceof EtcdLeaseInvalidError)) throw e;
      }
    });
  }

  async watch(
    prefix: string,
    onUpdate: (u: WatchUpdate) => void,
    opts: WatchOptions = {},
  ): Promise<() => void> {
    let stopped = false;
    let watcher: Watcher | null = null;
    let retry: NodeJS.Timeout | null = null;
    /** The last revision reported; the watch goes on after it. */
    let seen = opts.afterRevision;

    const deliver = (events: { type: 'Put' | 'Delete'; kv: IKeyValue }[]) => {
      let batch: Event[] = [];
      let at = 0;
      const flush = () => {
        if (batch.length > 0 && !stopped) onUpdate({ type: 'events', revision: at, events: batch });
        batch = [];
      };
      for (const ev of events) {
        const revision = Number(ev.kv.mod_revision);
        if (revision !== at) flush();
        at = revision;
        seen = revision;
        // The watcher already took the namespace prefix off the key.
        const key = ev.kv.key.toString();
        batch.push(
          ev.type === 'Delete'
            ? { type: 'delete', key, modRevision: revision }
            : { type: 'put', kv: { ...this.toKv(ev.kv), key } },
        );
      }
      flush();
    };

    const start = async (): Promise<void> => {
      if (seen === undefined) {
        const snap = await this.list(prefix);
        if (stopped) return;
        onUpdate({ type: 'snapshot', revision: snap.revision, items: snap.items });
        seen = snap.revision;
      }
      const w = await this.guard(`watching ${prefix}`, () =>
        this.ns
          .watch()
          .prefix(prefix)
          .startRevision(String((seen as number) + 1))
          .create(),
      );
      if (stopped) {
        await w.cancel().catch(() => {});
        return;
      }
      watcher = w;
      w.on('data', (res) => deliver(res.events as { type: 'Put' | 'Delete'; kv: IKeyValue }[]));
      // etcd ends a watch whose start revision it compacted away (and on other fatal errors): start over
      // from a snapshot, so no change is lost.
      w.on('error', () => restart(true));
    };

    const restart = (fresh: boolean) => {
      if (stopped) return;
      watcher?.removeAllListeners();
      watcher?.cancel().catch(() => {});
      watcher = null;
      if (fresh) seen = undefined;
      retry = setTimeout(() => {
        retry = null;
        start().catch(() => restart(false));
      }, REWATCH_MS);
    };

    try {
      await start();
    } catch (e) {
      const compacted = e instanceof PodnetError && /compacted/.test(e.message);
      if (!compacted) throw e;
      seen = undefined; // the asked revision is gone: a snapshot instead
      await start();
    }
    return () => {
      stopped = true;
      if (retry) clearTimeout(retry);
      watcher?.removeAllListeners();
      watcher?.cancel().catch(() => {});
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    this.client.close();
  }
}
