/**
 * An activity's payload that reached a worker unsealed, as the payload codec hands it on: wrapped,
 * so that no code takes it for the value it claims to be.
 *
 * Every payload a runbooks worker writes is sealed under the payload keys (src/codec/aes-gcm.ts),
 * activity inputs and results included. An unsealed one in an activity's place was written by
 * something without the keys: anyone who can call Temporal's API can complete a pending activity
 * by id with a result of their own (`{"frozen": false}` for the change-freeze read, a verification
 * that passed), or answer a workflow task with an activity of their own input. The workflow
 * interceptor (src/workflows/interceptors.ts) refuses such a result as the activity failing for
 * good; the worker's activity interceptor refuses such an input. Since 0.23.0 a sealed one names
 * the activity it was sealed for, and one opened for another activity (copied from that activity's
 * completion in some history) is wrapped and refused the same way. Histories from before encryption
 * (0.1.0–0.3.0) hold unsealed results that were taken as they came: they still are (patched).
 *
 * Imported by workflow code: nothing here may use Node.
 */
export const UNSEALED_ACTIVITY_PAYLOAD = 'runbooks:unsealedActivityPayload';

/** The activity a sealed payload was sealed for (since 0.23.0, inside the sealed bytes). */
export interface SealedForActivity {
  workflowId: string;
  activityId: string;
}

/**
 * The payload as it came: its encoding and its data as UTF-8 text; `sealedFor` when it was sealed
 * by a runbooks worker, but for another activity (copied from that activity's completion in some
 * history, since 0.23.0).
 */
export interface UnsealedActivityPayload {
  encoding: string;
  text: string;
  sealedFor?: SealedForActivity;
}

/** The wrapped payload inside a decoded value, if the value is one. */
export function unsealedActivityPayload(value: unknown): UnsealedActivityPayload | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const inner = (value as Record<string, unknown>)[UNSEALED_ACTIVITY_PAYLOAD];
  if (typeof inner !== 'object' || inner === null) return undefined;
  const { encoding, text, sealedFor } = inner as Record<string, unknown>;
  return {
    encoding: typeof encoding === 'string' ? encoding : '',
    text: typeof text === 'string' ? text : '',
    ...(typeof sealedFor === 'object' && sealedFor !== null
      ? { sealedFor: sealedFor as SealedForActivity }
      : {}),
  };
}

/**
 * What the codec server names inside what it seals (since 0.23.0): it seals whatever anyone allowed
 * to call `POST /encode` sends (a signal or start from the Web UI, where no activity is checked),
 * so what it sealed is never an activity's payload.
 */
export const SEALED_BY_CODEC_SERVER: SealedForActivity = {
  workflowId: '(the codec server)',
  activityId: 'POST /encode',
};

/**
 * What an activity's refused payload was, in words: absent, "not sealed …" or "sealed for …";
 * `written` is what a runbooks worker would have done with it (wrote a result, scheduled an input).
 */
export function whyNotTaken(unsealed: UnsealedActivityPayload, written = 'wrote'): string {
  const { sealedFor } = unsealed;
  if (unsealed.encoding === ABSENT_PAYLOAD_ENCODING)
    return `came with no payload at all (a runbooks worker seals even an empty result), so no runbooks worker ${written} it`;
  if (!sealedFor) return `is not sealed under the payload keys, so no runbooks worker ${written} it`;
  return sealedFor.workflowId === SEALED_BY_CODEC_SERVER.workflowId
    ? "was sealed by the codec server's POST /encode (which seals what anyone allowed to call it sends), not by a runbooks worker for this activity"
    : `was sealed by a runbooks worker for another activity (activity ${sealedFor.activityId} of ${sealedFor.workflowId}), not this one (copied from that activity's completion)`;
}

/**
 * The encoding an UnsealedActivityPayload says for an activity completed with no payload at all
 * (the workflow interceptor wraps such a completion so the payload converter sees it): a runbooks
 * worker writes even an empty result as a sealed payload, so no runbooks worker completed it.
 */
export const ABSENT_PAYLOAD_ENCODING = '(no payload)';
