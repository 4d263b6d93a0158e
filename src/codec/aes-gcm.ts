import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type {
  ActivitySerializationContext,
  DataConverter,
  Payload,
  PayloadCodec,
  SerializationContext,
} from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import {
  UNSEALED_ACTIVITY_PAYLOAD,
  type SealedForActivity,
  type UnsealedActivityPayload,
} from '../common/unsealed-payload';
import type { PayloadKey } from './keys';

/** The metadata an encrypted payload carries: its encoding and the id of the key that sealed it. */
export const ENCRYPTED_ENCODING = 'binary/encrypted';
export const KEY_ID_METADATA = 'encryption-key-id';
/**
 * Inside the sealed bytes (the Payload's own metadata, encrypted with it): the activity an
 * activity's payload was sealed for. Workers before 0.23.0 open such a payload as before and do
 * not look at it.
 */
export const SEALED_FOR_METADATA = 'runbooks-sealed-for';

const IV_BYTES = 12;
const TAG_BYTES = 16;
const text = (value: string): Uint8Array => Buffer.from(value, 'utf8');
const PayloadProto = temporal.api.common.v1.Payload;

/** A payload sealed under a key this process does not hold (or whose key id is missing). */
export class PayloadKeyUnknownError extends Error {
  override readonly name = 'PayloadKeyUnknownError';
}

/** A payload whose ciphertext does not authenticate under its key (tampered, or another key with that id). */
export class PayloadAuthenticationError extends Error {
  override readonly name = 'PayloadAuthenticationError';
}

/**
 * AES-256-GCM over each whole payload (metadata and data, as the Payload protobuf): the result's
 * metadata says only `binary/encrypted` and the key id, so the history shows neither the value
 * nor its encoding. The newest key (the first) seals; any listed key opens. Payloads not sealed by
 * this codec pass through unchanged (histories from before encryption; a signal from the Web UI
 * without the codec server), except an activity's input or result: those are handed on wrapped
 * (src/common/unsealed-payload.ts), for the workflow or the worker to refuse, as is one sealed for
 * another activity (since 0.23.0).
 */
export class AesGcmPayloadCodec implements PayloadCodec {
  private readonly byId: Map<string, Buffer>;

  constructor(private readonly keys: readonly PayloadKey[]) {
    if (!keys.length) throw new Error('AesGcmPayloadCodec needs at least one key');
    this.byId = new Map(keys.map((k) => [k.id, k.key]));
  }

  /** The id of the key new payloads are sealed with. */
  get currentKeyId(): string {
    return this.keys[0]!.id;
  }

  /**
   * An activity's payloads (its input, as the workflow schedules it; its result, failure details
   * and heartbeats, as its worker writes them) are sealed together with the activity they belong
   * to: workflow id and activity id, as the SDK names them on both sides. A sealed result copied
   * from another activity's completion then says so when opened (see decodeOne).
   */
  encode(payloads: Payload[], context?: SerializationContext): Promise<Payload[]> {
    return this.seal(payloads, activityOf(context));
  }

  /** Seals payloads, naming `sealedFor` inside them when given (see encode). */
  seal(payloads: Payload[], sealedFor: SealedForActivity | undefined): Promise<Payload[]> {
    const { id, key } = this.keys[0]!;
    const binding = sealedFor && text(JSON.stringify(sealedFor));
    return new Promise((resolve) =>
      resolve(
        payloads.map((plain) => {
          const payload = binding
            ? { ...plain, metadata: { ...plain.metadata, [SEALED_FOR_METADATA]: binding } }
            : plain;
          const iv = randomBytes(IV_BYTES);
          const cipher = createCipheriv('aes-256-gcm', key, iv);
          // The key id is authenticated too: a payload relabelled to another key fails to open.
          cipher.setAAD(text(id));
          const sealed = Buffer.concat([
            cipher.update(PayloadProto.encode(payload).finish()),
            cipher.final(),
          ]);
          return {
            metadata: { encoding: text(ENCRYPTED_ENCODING), [KEY_ID_METADATA]: text(id) },
            data: Buffer.concat([iv, sealed, cipher.getAuthTag()]),
          };
        }),
      ),
    );
  }

  /**
   * Rejects (never throws) on a payload it cannot open. The SDK says whose payloads these are: an
   * activity's (its input on the activity's worker, its result or failure on the workflow's) must
   * be sealed, and one that is not is wrapped instead of passed through.
   */
  decode(payloads: Payload[], context?: SerializationContext): Promise<Payload[]> {
    return new Promise((resolve) => resolve(payloads.map((payload) => this.decodeOne(payload, context))));
  }

  /**
   * One payload opened, or passed through when not sealed by this codec; throws when it cannot be
   * opened. An activity's payload is wrapped instead (for the run or the worker to refuse) when it
   * is not sealed, or when it was sealed for another activity than the one it now stands for
   * (since 0.23.0). One sealed before 0.23.0 names no activity and opens as it always did.
   */
  decodeOne(payload: Payload, context?: SerializationContext): Payload {
    const encoding = payload.metadata?.encoding;
    if (!encoding || Buffer.from(encoding).toString('utf8') !== ENCRYPTED_ENCODING)
      return context?.type === 'activity' ? wrapUnsealed(payload) : payload;
    const opened = this.open(payload);
    const binding = opened.metadata?.[SEALED_FOR_METADATA];
    if (!binding) return opened;
    // Taken out: what reads the payload (a converter, the Web UI) sees it as it was written.
    delete opened.metadata![SEALED_FOR_METADATA];
    const expected = activityOf(context);
    if (!expected) return opened;
    const sealedFor = parseSealedFor(Buffer.from(binding).toString('utf8'));
    return sealedFor?.workflowId === expected.workflowId && sealedFor.activityId === expected.activityId
      ? opened
      : wrapUnsealed(opened, sealedFor ?? { workflowId: '(unreadable)', activityId: '(unreadable)' });
  }

  /** A payload sealed by this codec, opened; throws when it cannot be. */
  private open(payload: Payload): Payload {
    const idBytes = payload.metadata?.[KEY_ID_METADATA];
    const id = idBytes ? Buffer.from(idBytes).toString('utf8') : undefined;
    const key = id === undefined ? undefined : this.byId.get(id);
    if (!key)
      throw new PayloadKeyUnknownError(
        id === undefined
          ? `an encrypted payload has no ${KEY_ID_METADATA} metadata: it cannot be decrypted`
          : `a payload is encrypted under key "${id}", which this process does not hold (its keys: ${[...this.byId.keys()].join(', ')}); add "${id}" to RUNBOOKS_PAYLOAD_KEYS (after the newest) to read it`,
      );
    const data = Buffer.from(payload.data ?? new Uint8Array());
    if (data.length < IV_BYTES + TAG_BYTES)
      throw new PayloadAuthenticationError(`a payload under key "${id}" is truncated (${data.length} bytes)`);
    const decipher = createDecipheriv('aes-256-gcm', key, data.subarray(0, IV_BYTES));
    decipher.setAAD(text(id!));
    decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
    let plain: Buffer;
    try {
      plain = Buffer.concat([
        decipher.update(data.subarray(IV_BYTES, data.length - TAG_BYTES)),
        decipher.final(),
      ]);
    } catch {
      throw new PayloadAuthenticationError(
        `a payload under key "${id}" does not authenticate: it was altered, or "${id}" here is not the key that sealed it`,
      );
    }
    return PayloadProto.decode(plain);
  }
}

/** The activity a payload in this context belongs to, when the SDK names both its ids. */
function activityOf(context: SerializationContext | undefined): SealedForActivity | undefined {
  if (context?.type !== 'activity') return undefined;
  const { workflowId, activityId } = context satisfies ActivitySerializationContext;
  return workflowId && activityId ? { workflowId, activityId } : undefined;
}

/** The activity named inside a sealed payload; undefined when it names none readably. */
function parseSealedFor(textValue: string): SealedForActivity | undefined {
  try {
    const { workflowId, activityId } = JSON.parse(textValue) as Partial<SealedForActivity>;
    return typeof workflowId === 'string' && typeof activityId === 'string'
      ? { workflowId, activityId }
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * An activity payload that is not to be taken, as a JSON value that says so
 * (src/common/unsealed-payload.ts): unsealed, or sealed for another activity (`sealedFor`).
 */
function wrapUnsealed(payload: Payload, sealedFor?: SealedForActivity): Payload {
  const wrapped: UnsealedActivityPayload = {
    encoding: Buffer.from(payload.metadata?.encoding ?? new Uint8Array()).toString('utf8'),
    text: Buffer.from(payload.data ?? new Uint8Array()).toString('utf8'),
    ...(sealedFor ? { sealedFor } : {}),
  };
  return {
    metadata: { encoding: text('json/plain') },
    data: text(JSON.stringify({ [UNSEALED_ACTIVITY_PAYLOAD]: wrapped })),
  };
}

/** The failure converter sealing failure messages (see failure-converter.ts); bundled into workflow code. */
export const FAILURE_CONVERTER_PATH = require.resolve('./failure-converter');

/** The payload converter that lets a run refuse an unsealed activity result (see payload-converter.ts). */
export const PAYLOAD_CONVERTER_PATH = require.resolve('./payload-converter');

/**
 * The data converter of every worker and client: encrypting payloads and failure messages, or
 * the SDK's default when 'off'. A prebuilt workflow bundle must include FAILURE_CONVERTER_PATH and
 * PAYLOAD_CONVERTER_PATH.
 */
export function runbookDataConverter(keys: readonly PayloadKey[] | 'off'): DataConverter {
  return keys === 'off'
    ? {}
    : {
        payloadCodecs: [new AesGcmPayloadCodec(keys)],
        failureConverterPath: FAILURE_CONVERTER_PATH,
        payloadConverterPath: PAYLOAD_CONVERTER_PATH,
      };
}
