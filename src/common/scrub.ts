import { cutHead } from './text';

/**
 * What may enter a payload from the outside world's output (command output, manifests, log
 * samples): scrubbed of secrets and cut short. Configured secret values (and their URL-encoded
 * forms), `password=` / `token: …`-style pairs, bearer tokens, passwords in URLs and private-key
 * blocks are replaced; the rest is kept so a human can still read what happened.
 */

const PRIVATE_KEY_BLOCK =
  /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----[\s\S]*?(-----END [A-Z0-9 ]*PRIVATE KEY-----|$)/g;
const SECRET_PAIR =
  /\b([A-Za-z0-9_.-]*?(?:password|passwd|pwd|passphrase|token|secret|api[_-]?key|access[_-]?key|private[_-]?key|client[_-]?secret|credentials?))(\s*["']?\s*[:=]\s*)("[^"\n]*"|'[^'\n]*'|[^\s,;&"'}]+)/gi;
const BEARER = /\b(Bearer|Basic|Token)\s+[A-Za-z0-9._~+/=-]{8,}/g;
const URL_PASSWORD = /([a-z][a-z0-9+.-]*:\/\/[^:/@\s]+:)[^@\s/]+@/gi;

export function scrubSecrets(text: string, secrets: readonly string[] = []): string {
  let result = text;
  for (const secret of secrets) {
    if (secret.length < 4) continue;
    for (const form of new Set([secret, encodeURIComponent(secret)])) result = result.split(form).join('***');
  }
  return result
    .replace(PRIVATE_KEY_BLOCK, '[private key removed]')
    .replace(SECRET_PAIR, (_match, key: string, separator: string) => `${key}${separator}***`)
    .replace(BEARER, '$1 ***')
    .replace(URL_PASSWORD, '$1***@');
}

/** Scrubbed, then cut to its last `maxChars` (the end of an output says most), marked when cut. */
export function scrubTail(text: string, secrets: readonly string[] = [], maxChars = 2_000): string {
  const clean = scrubSecrets(text, secrets).trim();
  return clean.length <= maxChars
    ? clean
    : `… (${clean.length - maxChars} characters cut)\n${clean.slice(-maxChars)}`;
}

/** Scrubbed, then cut to its first `maxChars`, marked when cut. */
export function scrubHead(text: string, secrets: readonly string[] = [], maxChars = 400): string {
  return cutHead(scrubSecrets(text, secrets).trim(), maxChars, '\n');
}
