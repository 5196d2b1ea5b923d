/**
 * The credentials of an etcd store: the CA that signs the members' certificates, this client's certificate
 * and key (mutual TLS, as Kubernetes, Calico and flannel run their etcd), and optionally an etcd user and
 * password. They come from a small credentials file named by the store URL (`?credentials=PATH`) or by
 * `$PODNET_STORE_CREDENTIALS`, else from `$PODNET_STORE_CA`, `_CERT`, `_KEY`, `_USER`, `_PASSWORD`; never from
 * a flag, since `ps` shows every process's arguments. A file holding a secret (the credentials file, the key)
 * must be readable by its owner only, or it is refused: a key others can read is no proof of who connects.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { PodnetError } from '../errors/index.js';

/** Where each piece lives (paths), and the etcd user if any, before anything is read. */
export interface StoreCredentialsSource {
  /** What named them, for messages: `credentials file PATH` or `$PODNET_STORE_*`. */
  from: string;
  ca?: string;
  cert?: string;
  key?: string;
  user?: string;
  password?: string;
}

/** What the etcd client is given: PEM bytes and the user, checked. */
export interface StoreCredentials {
  from: string;
  /** No `rootCertificate`: Node's bundled public roots, as etcdctl without --cacert. */
  tls?: { rootCertificate?: Buffer; certChain?: Buffer; privateKey?: Buffer };
  /** The client certificate's subject and end of validity, for messages. */
  clientCert?: { subject: string; validTo: string };
  auth?: { username: string; password: string };
}

const FILE_KEYS = ['ca', 'cert', 'key', 'user', 'password'] as const;

function invalid(from: string, why: string, field: string): PodnetError {
  return new PodnetError('StoreCredentialsInvalid', `store credentials (${from}): ${why}`, {
    field,
    hint: 'a credentials file is YAML with ca, cert and key (paths, relative to the file) and optionally user and password; see docs/store.md',
  });
}

/** Refuses a secret file that anyone but its owner can read or write (what `chmod 600` gives). */
export function requireOwnerOnly(path: string, what: string, field: string): void {
  let mode: number;
  try {
    mode = statSync(path).mode;
  } catch (e) {
    const code = what === 'key' ? 'StoreKeyUnreadable' : 'StoreCredentialsInvalid';
    throw new PodnetError(code, `the store ${what} ${path} cannot be read: ${(e as Error).message}`, {
      field,
      hint: `check the path; the ${what} must exist and be readable by the user podnet runs as`,
    });
  }
  if ((mode & 0o077) !== 0) {
    throw new PodnetError(
      'StoreCredentialsExposed',
      `the store ${what} ${path} has mode ${(mode & 0o777).toString(8).padStart(4, '0')}: other users can read or change it`,
      {
        field,
        hint: `chmod 600 ${path} (and keep its folder 0700); podnet refuses a secret others can read`,
      },
    );
  }
}

/**
 * Where the credentials are (pure: the URL's option and the environment in, paths out); null when none are
 * named. The URL's option wins over the environment, so a lab agent is never given the operator's own.
 */
export function credentialsSource(
  urlOption: string | undefined,
  env: NodeJS.ProcessEnv,
  readFile: (path: string) => string = (p) => readFileSync(p, 'utf8'),
): StoreCredentialsSource | null {
  const file = urlOption ?? env.PODNET_STORE_CREDENTIALS;
  if (file !== undefined && file !== '') {
    const field = urlOption !== undefined ? '--store' : 'PODNET_STORE_CREDENTIALS';
    const from = `credentials file ${file}`;
    requireOwnerOnly(file, 'credentials file', field);
    let doc: unknown;
    try {
      doc = parseYaml(readFile(file));
    } catch (e) {
      throw invalid(from, `not readable YAML: ${(e as Error).message}`, field);
    }
    if (doc === null || typeof doc !== 'object' || Array.isArray(doc))
      throw invalid(from, 'it must be a mapping of ca, cert, key, user, password', field);
    const out: StoreCredentialsSource = { from };
    for (const [k, v] of Object.entries(doc)) {
      // A misspelt key would otherwise drop the client certificate and connect without it.
      if (!(FILE_KEYS as readonly string[]).includes(k))
        throw invalid(from, `unknown key "${k}" (known: ${FILE_KEYS.join(', ')})`, field);
      if (typeof v !== 'string' || v === '') throw invalid(from, `"${k}" must be a non-empty string`, field);
      const key = k as (typeof FILE_KEYS)[number];
      out[key] = key === 'user' || key === 'password' ? v : resolve(dirname(file), v);
    }
    return check(out, field);
  }
  const out: StoreCredentialsSource = { from: '$PODNET_STORE_*' };
  const vars = { ca: 'CA', cert: 'CERT', key: 'KEY', user: 'USER', password: 'PASSWORD' } as const;
  for (const k of FILE_KEYS) {
    const v = env[`PODNET_STORE_${vars[k]}`];
    if (v !== undefined && v !== '') out[k] = k === 'user' || k === 'password' ? v : resolve(v);
  }
  return FILE_KEYS.some((k) => out[k] !== undefined) ? check(out, 'PODNET_STORE_CERT') : null;
}

function check(s: StoreCredentialsSource, field: string): StoreCredentialsSource {
  if ((s.cert === undefined) !== (s.key === undefined))
    throw invalid(s.from, 'a client certificate and its key go together: name both or neither', field);
  if ((s.user === undefined) !== (s.password === undefined))
    throw invalid(s.from, 'an etcd user needs its password (and a password its user)', field);
  return s;
}

function readPem(path: string, what: string, from: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new PodnetError(
      'StoreCertificateInvalid',
      `the store ${what} ${path} (${from}) cannot be read: ${(e as Error).message}`,
      {
        field: 'cert',
        hint: 'check the path and that podnet runs as a user who may read it',
      },
    );
  }
}

function parseCertificate(pem: Buffer, path: string, what: string): X509Certificate {
  try {
    return new X509Certificate(pem);
  } catch (e) {
    throw new PodnetError(
      'StoreCertificateInvalid',
      `the store ${what} ${path} is not a PEM certificate: ${(e as Error).message}`,
      {
        field: 'cert',
        hint: 'give the PEM file (-----BEGIN CERTIFICATE-----); podnet store certs makes a set',
      },
    );
  }
}

/**
 * Reads and checks what a source names, before any connection: every file readable, the key owner-only and a
 * key, the client certificate inside its validity and matching the key. What only the server can judge (its
 * trust in our certificate, ours in its) is diagnosed when connecting fails (`diagnoseTls`).
 */
export function loadCredentials(s: StoreCredentialsSource, now = new Date()): StoreCredentials {
  const out: StoreCredentials = { from: s.from };
  if (s.user !== undefined && s.password !== undefined) out.auth = { username: s.user, password: s.password };
  if (s.ca === undefined && s.cert === undefined) return out;
  const rootCertificate = s.ca !== undefined ? readPem(s.ca, 'CA certificate', s.from) : undefined;
  if (s.ca !== undefined && rootCertificate) parseCertificate(rootCertificate, s.ca, 'CA certificate');
  out.tls = { rootCertificate };
  if (s.cert === undefined || s.key === undefined) return out;
  const certChain = readPem(s.cert, 'client certificate', s.from);
  const cert = parseCertificate(certChain, s.cert, 'client certificate');
  requireOwnerOnly(s.key, 'key', 'key');
  let privateKey: Buffer;
  try {
    privateKey = readFileSync(s.key);
  } catch (e) {
    throw new PodnetError(
      'StoreKeyUnreadable',
      `the store key ${s.key} cannot be read: ${(e as Error).message}`,
      {
        field: 'key',
        hint: "run podnet as the key file's owner (root for the agent), or fix the path",
      },
    );
  }
  let key: ReturnType<typeof createPrivateKey>;
  try {
    key = createPrivateKey(privateKey);
  } catch (e) {
    throw new PodnetError(
      'StoreKeyUnreadable',
      `the store key ${s.key} is not an unencrypted PEM private key: ${(e as Error).message}`,
      {
        field: 'key',
        hint: 'give the PEM key without a passphrase (-----BEGIN PRIVATE KEY-----), mode 0600',
      },
    );
  }
  if (!cert.checkPrivateKey(key)) {
    throw new PodnetError(
      'StoreCertificateInvalid',
      `the store key ${s.key} is not the key of certificate ${s.cert}`,
      {
        field: 'key',
        hint: 'name the key issued with this certificate (podnet store certs writes NAME.crt beside NAME.key)',
      },
    );
  }
  const [from, to] = [new Date(cert.validFrom), new Date(cert.validTo)];
  if (now < from || now > to) {
    throw new PodnetError(
      'StoreCertificateExpired',
      `the store client certificate ${s.cert} (${cert.subject.replace(/\n/g, ', ')}) is valid from ${from.toISOString()} to ${to.toISOString()}, not now`,
      {
        field: 'cert',
        hint: 'issue a new certificate from the cluster CA (podnet store certs --out DIR --client NAME reuses the CA in DIR) and restart podnet',
        details: { validFrom: from.toISOString(), validTo: to.toISOString() },
      },
    );
  }
  out.tls = { rootCertificate, certChain, privateKey };
  out.clientCert = { subject: cert.subject.replace(/\n/g, ', '), validTo: to.toISOString() };
  return out;
}
