import { existsSync } from 'node:fs';
/**
 * Node-local pod address allocation: one SQLite file per node (`<state-dir>/<node>/pod-ipam.db`), WAL, every
 * change in BEGIN IMMEDIATE, so the agent, a CNI fallback and the CLI can share it across processes. A pod
 * start never touches the cluster store.
 *
 * Attachments are keyed by (containerId, ifname), as CNI keys them: a repeated ADD gets the same address back
 * (host-local errors instead; retries must be safe), and a DEL only frees what that container holds.
 */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { BLOCK_PREFIX, type Cidr, formatCidr, formatIp, ipAt, parseCidr, parseIp } from '../addr/index.js';
import { PodnetError } from '../errors/index.js';
import { immediate, openSqliteFile } from '../store/sqlite.js';
import { LAST_POD_OFFSET, USABLE_POD_ADDRESSES, nextFreeOffset } from './addresses.js';
import type { AllocateRequest, PodAddress, PodIpam } from './types.js';

const SCHEMA_VERSION = '1';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS addresses (
  host INTEGER PRIMARY KEY CHECK (host BETWEEN 1 AND ${LAST_POD_OFFSET}),
  ip TEXT NOT NULL UNIQUE,
  container_id TEXT NOT NULL,
  ifname TEXT NOT NULL,
  pod_name TEXT,
  pod_namespace TEXT,
  netns TEXT,
  allocated_at TEXT NOT NULL,
  UNIQUE (container_id, ifname)
);`;

/**
 * Where the agent keeps a node's pod address file of a family; the CLI reads the same path. A dual-stack
 * node has one file per block: `pod-ipam.db` (IPv4, the name single-stack nodes always had) and
 * `pod-ipam6.db`.
 */
export function podIpamPath(stateDir: string, nodeName: string, family: 4 | 6 = 4): string {
  return join(stateDir, nodeName, family === 4 ? 'pod-ipam.db' : 'pod-ipam6.db');
}

interface AddressRow {
  host: number;
  ip: string;
  container_id: string;
  ifname: string;
  pod_name: string | null;
  pod_namespace: string | null;
  netns: string | null;
  allocated_at: string;
}

export interface PodIpamOptions {
  path: string;
  /** The node's block, e.g. "10.244.3.0/24". */
  block: string;
  /** The node pool's max pods: the cap on addresses held at once. */
  maxPods: number;
}

function parseBlock(block: string): Cidr {
  const c = parseCidr(block, 'block');
  if (c.prefix !== BLOCK_PREFIX[c.family]) {
    throw new PodnetError(
      'InvalidBlock',
      `${block} is not a node block: blocks are /${BLOCK_PREFIX[c.family]}`,
      {
        field: 'block',
        hint: 'pass the block the node leased from the cluster store',
      },
    );
  }
  return c;
}

function toAddress(row: AddressRow, block: string): PodAddress {
  return {
    family: parseIp(row.ip).family,
    ip: row.ip,
    block,
    containerId: row.container_id,
    ifname: row.ifname,
    ...(row.pod_name === null ? {} : { podName: row.pod_name }),
    ...(row.pod_namespace === null ? {} : { podNamespace: row.pod_namespace }),
    ...(row.netns === null ? {} : { netns: row.netns }),
    allocatedAt: row.allocated_at,
  };
}

class SqlitePodIpam implements PodIpam {
  readonly block: string;
  readonly maxPods: number;
  private readonly path: string;
  private readonly cidr: Cidr;
  private readonly db: Database.Database;
  private readonly stmt;

  constructor(opts: PodIpamOptions) {
    this.path = opts.path;
    this.cidr = parseBlock(opts.block);
    this.block = formatCidr(this.cidr);
    if (!Number.isInteger(opts.maxPods) || opts.maxPods < 1 || opts.maxPods > USABLE_POD_ADDRESSES) {
      throw new PodnetError(
        'InvalidMaxPods',
        `max pods ${opts.maxPods} must be a whole number from 1 to ${USABLE_POD_ADDRESSES}`,
        {
          field: 'maxPods',
          hint: `a block offers ${USABLE_POD_ADDRESSES} pod addresses (.1 to .254); node pools allow 10 to 250`,
        },
      );
    }
    this.maxPods = opts.maxPods;
    this.db = openSqliteFile(opts.path, 'node-local pod address file');
    try {
      this.db
        .transaction(() => {
          this.db.exec(SCHEMA);
          const meta = this.db.prepare('SELECT value FROM meta WHERE key = ?').pluck();
          const put = this.db.prepare('INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)');
          const version = meta.get('schema_version') as string | undefined;
          if (version !== undefined && version !== SCHEMA_VERSION) {
            throw new PodnetError(
              'StoreSchemaMismatch',
              `the pod address file ${opts.path} has schema version ${version} (row meta.schema_version), this podnet reads ${SCHEMA_VERSION}`,
              {
                field: 'meta.schema_version',
                hint: 'use the podnet version that wrote it, or drain the node and remove the file',
              },
            );
          }
          const held = meta.get('block') as string | undefined;
          const count = this.db.prepare('SELECT count(*) FROM addresses').pluck().get() as number;
          if (held !== undefined && held !== this.block && count > 0) {
            throw new PodnetError(
              'PodIpamBlockMismatch',
              `the pod address file ${opts.path} holds ${count} addresses of block ${held}, but the node now owns ${this.block}`,
              {
                field: 'block',
                hint: `the node lost its block and got another; drain its pods (\`podnet ipam pods\` lists them), then remove ${opts.path}`,
                details: { held, requested: this.block, addresses: count },
              },
            );
          }
          if (held !== this.block) {
            // An empty file may follow the node to a new block; a fresh cursor starts at .1.
            put.run('block', this.block);
            put.run('cursor', '0');
          }
          put.run('schema_version', SCHEMA_VERSION);
        })
        .immediate();
    } catch (e) {
      this.db.close();
      if (e instanceof PodnetError) throw e;
      throw new PodnetError(
        'StoreCorrupt',
        `the file ${opts.path} is not a podnet pod address file: ${(e as Error).message}`,
        {
          field: 'path',
          hint: 'move the file away; the agent creates a new one',
          cause: e,
        },
      );
    }
    this.stmt = {
      byAttachment: this.db.prepare('SELECT * FROM addresses WHERE container_id = ? AND ifname = ?'),
      count: this.db.prepare('SELECT count(*) FROM addresses').pluck(),
      offsets: this.db.prepare('SELECT host FROM addresses').pluck(),
      cursor: this.db.prepare("SELECT value FROM meta WHERE key = 'cursor'").pluck(),
      setCursor: this.db.prepare("UPDATE meta SET value = ? WHERE key = 'cursor'"),
      insert: this.db.prepare(
        `INSERT INTO addresses (host, ip, container_id, ifname, pod_name, pod_namespace, netns, allocated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      remove: this.db.prepare('DELETE FROM addresses WHERE container_id = ? AND ifname = ? RETURNING *'),
      all: this.db.prepare('SELECT * FROM addresses ORDER BY host'),
    };
  }

  allocate(req: AllocateRequest): PodAddress {
    for (const [field, v] of [
      ['containerId', req.containerId],
      ['ifname', req.ifname],
    ] as const) {
      if (typeof v !== 'string' || v === '') {
        throw new PodnetError('InvalidAllocation', `pod address request: ${field} is missing`, {
          field,
          hint: 'the runtime passes CNI_CONTAINERID and CNI_IFNAME',
        });
      }
    }
    const row = immediate(this.db, this.path, () => {
      const existing = this.stmt.byAttachment.get(req.containerId, req.ifname) as AddressRow | undefined;
      if (existing) return existing;
      const allocated = this.stmt.count.get() as number;
      if (allocated >= this.maxPods) {
        throw new PodnetError(
          'MaxPodsReached',
          `node block ${this.block} already holds ${allocated} pod addresses, the max pods of its pool`,
          {
            field: 'maxPods',
            hint: 'schedule the pod on another node, or raise the node pool max pods (podnet cluster update)',
            details: { maxPods: this.maxPods, allocated },
          },
        );
      }
      const used = new Set(this.stmt.offsets.all() as number[]);
      const offset = nextFreeOffset((o) => used.has(o), Number(this.stmt.cursor.get() ?? 0));
      if (offset === null) {
        throw new PodnetError('BlockExhausted', `node block ${this.block} has no free pod address`, {
          field: 'block',
          hint: 'remove pods from this node',
        });
      }
      const ip = formatIp(ipAt(this.cidr, offset));
      const now = new Date().toISOString();
      this.stmt.insert.run(
        offset,
        ip,
        req.containerId,
        req.ifname,
        req.podName ?? null,
        req.podNamespace ?? null,
        req.netns ?? null,
        now,
      );
      this.stmt.setCursor.run(String(offset));
      return this.stmt.byAttachment.get(req.containerId, req.ifname) as AddressRow;
    });
    return toAddress(row, this.block);
  }

  release(containerId: string, ifname: string): PodAddress | null {
    const row = immediate(
      this.db,
      this.path,
      () => this.stmt.remove.get(containerId, ifname) as AddressRow | undefined,
    );
    return row ? toAddress(row, this.block) : null;
  }

  get(containerId: string, ifname: string): PodAddress | null {
    const row = this.stmt.byAttachment.get(containerId, ifname) as AddressRow | undefined;
    return row ? toAddress(row, this.block) : null;
  }

  list(): PodAddress[] {
    return (this.stmt.all.all() as AddressRow[]).map((r) => toAddress(r, this.block));
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}

export function openPodIpam(opts: PodIpamOptions): PodIpam {
  return new SqlitePodIpam(opts);
}

/** What a node's pod address file holds, read without changing it (for `podnet ipam pods`). */
export function readPodIpamFile(path: string): { block: string | null; addresses: PodAddress[] } {
  if (!existsSync(path)) {
    throw new PodnetError('PodIpamNotFound', `no pod address file at ${path}`, {
      field: '--node',
      hint: 'check the node name and --state-dir (the agent keeps <state-dir>/<node>/pod-ipam.db on its node)',
    });
  }
  let db: Database.Database | undefined;
  try {
    db = new Database(path, { readonly: true, fileMustExist: true, timeout: 15_000 });
    const block =
      (db.prepare("SELECT value FROM meta WHERE key = 'block'").pluck().get() as string | undefined) ?? null;
    const rows = db.prepare('SELECT * FROM addresses ORDER BY host').all() as AddressRow[];
    return { block, addresses: rows.map((r) => toAddress(r, block ?? '')) };
  } catch (e) {
    throw new PodnetError(
      'StoreCorrupt',
      `the file ${path} is not a podnet pod address file: ${(e as Error).message}`,
      {
        field: '--node',
        hint: 'check the path; the agent creates this file itself',
        cause: e,
      },
    );
  } finally {
    db?.close();
  }
}

/** Frees one attachment's address in a node's file (operator release); null when it holds none. */
export function releasePodAddress(path: string, containerId: string, ifname: string): PodAddress | null {
  const { block } = readPodIpamFile(path);
  if (block === null) return null;
  const ipam = openPodIpam({ path, block, maxPods: USABLE_POD_ADDRESSES });
  try {
    return ipam.release(containerId, ifname);
  } finally {
    ipam.close();
  }
}
