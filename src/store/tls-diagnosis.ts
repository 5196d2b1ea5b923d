/**
 * Says which certificate is wrong when a TLS connection to etcd fails. gRPC folds every handshake failure into
 * "unavailable"; one HTTPS request to the member's `/health` with the same credentials gets Node's own TLS
 * error codes, which name the side at fault: the server's certificate (untrusted, wrong name, expired) or ours
 * (refused by the server). Run only after a failed connect, so a working store pays nothing.
 */
import { request } from 'node:https';
import { PodnetError } from '../errors/index.js';
import type { StoreCredentials } from './credentials.js';

/** Node/OpenSSL codes for a server certificate this client does not trust. */
const UNTRUSTED = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);
const EXPIRED = new Set(['CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID']);
/** TLS alerts a server sends when it refuses the client's certificate (or its absence). */
const REFUSED =
  /alert (bad certificate|unknown ca|certificate required|certificate expired|certificate unknown|certificate revoked|access denied|handshake failure)/i;

/** The code a TLS failure maps to (pure), or null when it is not about certificates. */
export function classifyTlsFailure(e: { code?: string; message: string }):
  | 'untrusted'
  | 'expired'
  | 'refused'
  | null {
  if (e.code && UNTRUSTED.has(e.code)) return 'untrusted';
  if (e.code && EXPIRED.has(e.code)) return 'expired';
  if (REFUSED.test(e.message) || /_ALERT_/.test(e.code ?? '')) return 'refused';
  return null;
}

/** One `GET /health` over TLS to `host` (an https or unixs endpoint); the PodnetError it shows, or null. */
export function diagnoseTls(
  url: string,
  host: string,
  creds?: StoreCredentials,
): Promise<PodnetError | null> {
  const unix = host.startsWith('unixs:');
  const u = new URL(host);
  const tls = creds?.tls;
  return new Promise((resolve) => {
    const req = request(
      {
        ...(unix
          ? { socketPath: u.pathname, host: 'localhost' }
          : { host: u.hostname.replace(/^\[(.*)\]$/, '$1'), port: Number(u.port) }),
        path: '/health',
        timeout: 3000,
        ...(tls?.rootCertificate ? { ca: tls.rootCertificate } : {}),
        ...(tls?.certChain ? { cert: tls.certChain, key: tls.privateKey } : {}),
        agent: false,
      },
      (res) => {
        res.resume();
        resolve(null);
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e: Error & { code?: string }) => resolve(asError(url, host, e, creds)));
    req.end();
  });
}

function asError(
  url: string,
  host: string,
  e: Error & { code?: string },
  creds?: StoreCredentials,
): PodnetError | null {
  const kind = classifyTlsFailure(e);
  const from = creds?.from ?? 'no credentials';
  const what = `${e.code ?? 'TLS'}: ${e.message}`;
  if (kind === 'untrusted') {
    return new PodnetError(
      'StoreServerUntrusted',
      `etcd store ${url}: the certificate of ${host} is not trusted (${what})`,
      {
        field: 'ca',
        hint: `name the CA that signed the etcd members' certificates (${from}), and issue the member a certificate for the address it is reached at`,
        cause: e,
      },
    );
  }
  if (kind === 'expired') {
    return new PodnetError(
      'StoreCertificateExpired',
      `etcd store ${url}: the certificate of ${host} is outside its validity (${what})`,
      {
        field: 'ca',
        hint: "renew the etcd member's certificate (podnet store certs --out DIR --server NAME reuses the CA in DIR) and restart it",
        cause: e,
      },
    );
  }
  if (kind === 'refused') {
    const ours = creds?.clientCert ? `certificate ${creds.clientCert.subject}` : 'no client certificate';
    return new PodnetError(
      'StoreCertificateRejected',
      `etcd store ${url}: ${host} refused this client (${ours}; ${what})`,
      {
        field: 'cert',
        hint: `give a client certificate issued by the CA etcd trusts (--trusted-ca-file), from ${from}; podnet store certs makes one`,
        cause: e,
      },
    );
  }
  return null;
}
