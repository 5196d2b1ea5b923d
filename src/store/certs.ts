/**
 * `podnet store certs`: the certificates of an etcd store run with mutual TLS, in one folder (0700, every file
 * 0600): a CA (`ca.crt`, `ca.key`; reused when the folder has one, so clients and members are added later), a
 * certificate per etcd member for the names and addresses clients reach it at, and one per client (a node's
 * agent, an operator) with a credentials file (`NAME.yaml`) that names its CA, certificate and key for
 * `etcd:...?credentials=` (credentials.ts). A client's common name is its name: with etcd auth on, etcd takes
 * it as the user, so a role can limit it to podnet's prefix (docs/store.md).
 */
import { chmodSync, existsSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { PodnetError } from '../errors/index.js';
import { issueCertificate, newEcKey } from '../kernel/openssl.js';

export const CA_DAYS = 3650;
export const DEFAULT_CERT_DAYS = 365;

export interface StoreCertsRequest {
  out: string;
  /** etcd members: a name (file name and common name) and the DNS names and IPs clients reach it at. */
  servers: { name: string; sans: string[] }[];
  /** Clients (node agents, operators): one certificate and credentials file each. */
  clients: string[];
  /** Validity of the member and client certificates, in days. */
  days?: number;
}

export interface StoreCertsResult {
  out: string;
  /** The CA was in the folder already. */
  caReused: boolean;
  files: string[];
}

const NAME = /^[a-z0-9]([a-z0-9.-]{0,62})$/;
const DNS = /^(\*\.)?[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*$/;

const exists = (path: string) =>
  new PodnetError('CertificateExists', `${path} exists`, {
    field: '--out',
    hint: 'remove it first to reissue it, or choose another name',
  });

/** Checks a request before anything is written (pure). */
export function checkCertsRequest(r: StoreCertsRequest): void {
  const names = [...r.servers.map((s) => s.name), ...r.clients];
  for (const n of names) {
    if (!NAME.test(n) || n === 'ca')
      throw new PodnetError('InvalidCertName', `"${n}" cannot name a certificate`, {
        field: '--client',
        hint: 'use lower-case letters, digits, "." and "-" (at most 63), not "ca"',
      });
  }
  const twice = names.find((n, i) => names.indexOf(n) !== i);
  if (twice)
    throw new PodnetError('InvalidCertName', `"${twice}" is named twice`, {
      field: '--client',
      hint: 'give each member and client its own name',
    });
  for (const s of r.servers) {
    if (s.sans.length === 0)
      throw new PodnetError(
        'InvalidSan',
        `etcd member "${s.name}" needs the names or addresses clients reach it at`,
        {
          field: '--server-san',
          hint: 'pass e.g. --server-san 10.0.0.4,etcd-1.example.com,localhost,127.0.0.1',
        },
      );
    for (const san of s.sans) {
      if (!isIP(san) && !DNS.test(san))
        throw new PodnetError('InvalidSan', `"${san}" is neither an IP address nor a DNS name`, {
          field: '--server-san',
          hint: 'list IPs and DNS names, comma-separated',
        });
    }
  }
  const days = r.days ?? DEFAULT_CERT_DAYS;
  if (!Number.isInteger(days) || days < 1 || days > CA_DAYS)
    throw new PodnetError('InvalidCertDays', `--days must be a whole number from 1 to ${CA_DAYS}`, {
      field: '--days',
      hint: 'pass e.g. --days 365',
    });
}

/** `subjectAltName` value for a list of IPs and DNS names. */
export function sanLine(sans: string[]): string {
  return `subjectAltName = ${sans.map((s) => (isIP(s) ? `IP:${s}` : `DNS:${s}`)).join(', ')}`;
}

const LEAF = [
  'basicConstraints = critical, CA:FALSE',
  'keyUsage = critical, digitalSignature, keyEncipherment',
  'subjectKeyIdentifier = hash',
  'authorityKeyIdentifier = keyid, issuer',
];

/** Writes a secret-or-not file owner-only, refusing to replace one (a reissued key would strand its users). */
function writeOwnerOnly(path: string, text: string, written: string[]): void {
  if (existsSync(path)) throw exists(path);
  writeFileSync(path, text, { mode: 0o600, flag: 'wx' });
  written.push(path);
}

async function issue(
  out: string,
  name: string,
  days: number,
  extensions: string[],
  files: string[],
): Promise<void> {
  const keyPath = join(out, `${name}.key`);
  const certPath = join(out, `${name}.crt`);
  if (existsSync(certPath)) throw exists(certPath);
  writeOwnerOnly(keyPath, await newEcKey(), files);
  const cert = await issueCertificate({
    keyPath,
    commonName: name,
    extensions,
    days,
    issuer: { certPath: join(out, 'ca.crt'), keyPath: join(out, 'ca.key') },
  });
  writeOwnerOnly(certPath, cert, files);
}

/** Writes what `r` asks for; when anything fails, the files this call wrote are removed again. */
export async function writeStoreCerts(r: StoreCertsRequest): Promise<StoreCertsResult> {
  checkCertsRequest(r);
  const written: string[] = [];
  try {
    return await writeAll(r, written);
  } catch (e) {
    for (const f of written) rmSync(f, { force: true });
    throw e;
  }
}

async function writeAll(r: StoreCertsRequest, files: string[]): Promise<StoreCertsResult> {
  const days = r.days ?? DEFAULT_CERT_DAYS;
  mkdirSync(r.out, { recursive: true, mode: 0o700 });
  if ((statSync(r.out).mode & 0o077) !== 0) chmodSync(r.out, 0o700);
  const caCert = join(r.out, 'ca.crt');
  const caKey = join(r.out, 'ca.key');
  const caReused = existsSync(caCert) && existsSync(caKey);
  if (!caReused) {
    writeOwnerOnly(caKey, await newEcKey(), files);
    writeOwnerOnly(
      caCert,
      await issueCertificate({
        keyPath: caKey,
        commonName: 'podnet store CA',
        extensions: [
          'basicConstraints = critical, CA:TRUE, pathlen:0',
          'keyUsage = critical, keyCertSign, cRLSign',
          'subjectKeyIdentifier = hash',
        ],
        days: CA_DAYS,
      }),
      files,
    );
  }
  // Members also get clientAuth: etcd's own gRPC gateway dials the member with the member's certificate.
  for (const s of r.servers)
    await issue(
      r.out,
      s.name,
      days,
      [...LEAF, 'extendedKeyUsage = serverAuth, clientAuth', sanLine(s.sans)],
      files,
    );
  await Promise.all(
    r.clients.map(async (c) => {
      await issue(r.out, c, days, [...LEAF, 'extendedKeyUsage = clientAuth'], files);
      const creds = join(r.out, `${c}.yaml`);
      writeOwnerOnly(
        creds,
        `# podnet store credentials of ${c}: etcd:https://...?credentials=${creds}\nca: ca.crt\ncert: ${c}.crt\nkey: ${c}.key\n`,
        files,
      );
    }),
  );
  return { out: r.out, caReused, files };
}
