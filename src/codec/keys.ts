import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { ConfigurationError } from '../common/errors';
import { describeIssues } from '../common/validation';

/**
 * Payload encryption keys from the process's environment (never from a run's input or history):
 *
 * - `RUNBOOKS_PAYLOAD_KEYS`: `id=base64key[,id=base64key…]`, newest first. The newest encrypts;
 *   every listed key decrypts, so a rotation adds the new key in front and keeps the old ones
 *   until no payload under them can still be read (the namespace's retention).
 * - `RUNBOOKS_PAYLOAD_KEYS_FILE`: a file holding the same text (the local stack writes one).
 * - `RUNBOOKS_PAYLOAD_ENCRYPTION=off`: the explicit, logged opt-out. Without keys and without it,
 *   the worker and the CLI refuse to start: payloads in clear are never an accident.
 */
export const PAYLOAD_KEYS_ENV = 'RUNBOOKS_PAYLOAD_KEYS';
export const PAYLOAD_KEYS_FILE_ENV = 'RUNBOOKS_PAYLOAD_KEYS_FILE';
export const PAYLOAD_ENCRYPTION_ENV = 'RUNBOOKS_PAYLOAD_ENCRYPTION';

export interface PayloadKey {
  id: string;
  key: Buffer;
}

const keyIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'a key id is letters, digits, ".", "_" and "-" (at most 64)');

const keyEntrySchema = z
  .string()
  .trim()
  .transform((entry, ctx): PayloadKey => {
    const at = entry.indexOf('=');
    const id = keyIdSchema.safeParse(at > 0 ? entry.slice(0, at) : '');
    if (!id.success) {
      ctx.addIssue({
        code: 'custom',
        message: `"${entry.slice(0, 20)}…": expected id=base64key; ${id.error.issues[0]?.message}`,
      });
      return z.NEVER;
    }
    const text = entry.slice(at + 1);
    const key = Buffer.from(text, 'base64');
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(text) || key.length !== 32) {
      ctx.addIssue({
        code: 'custom',
        message: `key "${id.data}": must be 32 bytes in base64 (AES-256), got ${key.length} bytes`,
      });
      return z.NEVER;
    }
    return { id: id.data, key };
  });

const keyListSchema = z
  .string()
  .transform((text) => text.split(/[,\n]/).filter((entry) => entry.trim() !== ''))
  .pipe(z.array(keyEntrySchema).min(1, 'at least one key'))
  .superRefine((keys, ctx) => {
    const seen = new Set<string>();
    for (const { id } of keys) {
      if (seen.has(id)) ctx.addIssue({ code: 'custom', message: `key id "${id}" is listed twice` });
      seen.add(id);
    }
  });

/** Parses a key list (`id=base64,…`, newest first); `source` names where it came from. */
export function parsePayloadKeys(text: string, source: string): PayloadKey[] {
  const parsed = keyListSchema.safeParse(text);
  if (!parsed.success) throw new ConfigurationError(describeIssues(parsed.error, source));
  return parsed.data;
}

/**
 * The keys this process encrypts and decrypts with, or 'off' when encryption is explicitly off.
 * Fails fast, naming the variables, when neither is configured.
 */
export function loadPayloadKeys(env: NodeJS.ProcessEnv = process.env): PayloadKey[] | 'off' {
  const inline = env[PAYLOAD_KEYS_ENV];
  const file = env[PAYLOAD_KEYS_FILE_ENV];
  const mode = env[PAYLOAD_ENCRYPTION_ENV];
  if (mode !== undefined && mode !== 'on' && mode !== 'off')
    throw new ConfigurationError(`${PAYLOAD_ENCRYPTION_ENV}: must be "on" or "off", got "${mode}"`);
  if (inline && file)
    throw new ConfigurationError(`${PAYLOAD_KEYS_ENV} and ${PAYLOAD_KEYS_FILE_ENV}: give one, not both`);
  if (inline) return parsePayloadKeys(inline, PAYLOAD_KEYS_ENV);
  if (file) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      throw new ConfigurationError(
        `${PAYLOAD_KEYS_FILE_ENV}: cannot read ${file}: ${(error as Error).message}`,
      );
    }
    return parsePayloadKeys(text, `${PAYLOAD_KEYS_FILE_ENV} (${file})`);
  }
  if (mode === 'off') return 'off';
  throw new ConfigurationError(
    `payload encryption has no key: set ${PAYLOAD_KEYS_ENV} (id=base64 of 32 random bytes, newest first; ` +
      `e.g. "k1=$(openssl rand -base64 32)") or ${PAYLOAD_KEYS_FILE_ENV}, the same keys on every worker, ` +
      `CLI and codec server of the namespace; or ${PAYLOAD_ENCRYPTION_ENV}=off to run with payloads in clear`,
  );
}

/** For the worker's start line: which key seals, which open (never the key material). */
export function describePayloadKeys(keys: readonly PayloadKey[] | 'off'): string {
  return keys === 'off'
    ? 'off'
    : `AES-256-GCM, sealing with key ${keys[0]!.id}, opening ${keys.map((k) => k.id).join(', ')}`;
}

/** A new key entry (`id=base64`) for a key list. */
export function generatePayloadKeyEntry(id: string): string {
  return `${keyIdSchema.parse(id)}=${randomBytes(32).toString('base64')}`;
}
