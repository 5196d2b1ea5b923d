/**
 * What a sysdump must never carry: private keys, passwords, tokens, store credentials. Pure: text and JSON
 * values are rewritten with `[redacted]` in place of the secret, keeping the rest readable. Key files are never
 * read at all (the collector reads only what it names: logs, metrics, kernel dumps, store records).
 */
export const REDACTED = '[redacted]';

/** JSON keys whose values are secrets (a certificate's public part is not, a key's path is not). */
const SECRET_KEY =
  /^(pass(word|wd|phrase)?|secret|token|bearer|credentials?|private[-_]?key|client[-_]?key[-_]?data|key[-_]?data|api[-_]?key|authorization|cookie|auth)$|(password|secret|token)$/i;

const PEM_PRIVATE = /-----BEGIN ([A-Z0-9 ]*?)PRIVATE KEY-----[\s\S]*?(-----END \1PRIVATE KEY-----|$)/g;
const URL_USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)[^/\s@"']+@/gi;
const PAIR =
  /(?<![A-Za-z])(pass(?:word|wd|phrase)?|secret|token|api[-_]?key|credentials?|authorization)(\\?["']?\s*[:=]\s*\\?["']?)([^\s"'\\&,;}]+)/gi;
const SCHEME_TOKEN = /\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{8,}/g;

export function redactText(text: string): string {
  return text
    .replace(
      PEM_PRIVATE,
      (_m, kind: string) => `-----BEGIN ${kind}PRIVATE KEY-----${REDACTED}-----END ${kind}PRIVATE KEY-----`,
    )
    .replace(URL_USERINFO, `$1${REDACTED}@`)
    .replace(SCHEME_TOKEN, `$1 ${REDACTED}`)
    .replace(PAIR, (m, k: string, sep: string, value: string) =>
      value === REDACTED || /^(Bearer|Basic)$/.test(value) ? m : `${k}${sep}${REDACTED}`,
    );
}

/** A JSON value with secret-named fields blanked and every string redacted as text. */
export function redactValue(v: unknown): unknown {
  if (typeof v === 'string') return redactText(v);
  if (Array.isArray(v)) return v.map(redactValue);
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      out[k] = SECRET_KEY.test(k) && x !== null && typeof x !== 'object' ? REDACTED : redactValue(x);
    }
    return out;
  }
  return v;
}
