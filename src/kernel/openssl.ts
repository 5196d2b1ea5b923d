/**
 * Keys and certificates made with the host's `openssl` (OpenSSL 3), the tool operators already trust and
 * audit, rather than a JavaScript X.509 library: `podnet store certs` runs the same two commands docs/store.md
 * shows by hand. Keys come back on stdout, so no secret is ever an argument (`ps` shows those) or a temporary
 * file; the caller stores the key with mode 0600. A certificate's settings (nothing secret) go in a short-lived
 * config file, since openssl cannot read one from a pipe.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PodnetError } from '../errors/index.js';
import { runRaw } from './exec.js';

function failed(what: string, r: { stderr: string; code: number }): PodnetError {
  return new PodnetError(
    'KernelCommandFailed',
    `openssl could not ${what} (exit ${r.code}): ${r.stderr.trim()}`,
    {
      hint: 'podnet needs OpenSSL 3 (apt-get install openssl)',
    },
  );
}

/** A new ECDSA P-256 private key, PEM (PKCS#8, unencrypted). */
export async function newEcKey(): Promise<string> {
  const r = await runRaw('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256']);
  if (r.code !== 0 || !r.stdout.includes('PRIVATE KEY')) throw failed('make a key', r);
  return r.stdout;
}

export interface CertificateRequest {
  /** The private key file of the new certificate (already written, 0600). */
  keyPath: string;
  commonName: string;
  /** openssl `x509v3_config` lines of the certificate's extensions (`basicConstraints = ...`). */
  extensions: string[];
  days: number;
  /** The issuing CA's certificate and key files; none for a self-signed CA. */
  issuer?: { certPath: string; keyPath: string };
}

/** Issues an X.509 certificate (PEM) with `openssl req -x509`: self-signed, or signed by `issuer`. */
export async function issueCertificate(c: CertificateRequest): Promise<string> {
  const config = [
    '[req]',
    'distinguished_name = dn',
    'prompt = no',
    'x509_extensions = ext',
    '[dn]',
    `CN = ${c.commonName}`,
    '[ext]',
    ...c.extensions,
  ].join('\n');
  const issuer = c.issuer ? ['-CA', c.issuer.certPath, '-CAkey', c.issuer.keyPath] : [];
  const dir = mkdtempSync(join(tmpdir(), 'podnet-openssl-'));
  let r: Awaited<ReturnType<typeof runRaw>>;
  try {
    writeFileSync(join(dir, 'req.cnf'), `${config}\n`);
    r = await runRaw('openssl', [
      'req',
      '-x509',
      '-new',
      '-sha256',
      '-key',
      c.keyPath,
      '-days',
      String(c.days),
      '-config',
      join(dir, 'req.cnf'),
      ...issuer,
    ]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  if (r.code !== 0 || !r.stdout.includes('BEGIN CERTIFICATE'))
    throw failed(`issue a certificate for ${c.commonName}`, r);
  return r.stdout;
}
