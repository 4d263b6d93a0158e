import { ApplicationFailure } from '@temporalio/common';
import type { Pool } from 'pg';
import { z } from 'zod';
import { helmPinArguments, helmTarget } from '../../common/helm-pin';
import type { ReleaseRollbackPolicy } from '../../common/policy';
import { scrubTail } from '../../common/scrub';
import { deliveredReceipt, recordReceipt } from '../delivery-ledger';
import { failureWithoutOutput, launchFile } from '../exec/launcher';
import { HEARTBEAT_EVERY_MS, heartbeatIfInActivity } from '../heartbeat';
import { parseInput, requiredSection } from '../validation';

/**
 * `helm` through execFile with an argument array (never a shell), always with an explicit
 * --kube-context and --namespace. The binary is `helm` on PATH (tests put a fake first), or $HELM.
 */

export interface HelmPin {
  release: string;
  key: string;
  tag: string;
  /** The tag the release had before (absent when the key was not set). */
  previousTag?: string;
  /** True when the release already had the tag: nothing was upgraded. */
  alreadyPinned: boolean;
  argv: string[];
  outputTail: string;
  durationMs: number;
  /** True when the ledger already had this pin (a retry after it completed). */
  replayed: boolean;
}

const pinSchema = z
  .object({
    tag: z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/, 'must be an image tag'),
    deliveryKey: z.string().min(1).max(400),
  })
  .strict();

const PERMANENT =
  /\b(not found|Forbidden|Unauthorized|forbidden|unknown flag|invalid|has no deployed releases)\b/;

function runHelm(args: string[], timeoutMs: number, secrets: readonly string[]): Promise<string> {
  const binary = process.env.HELM ?? 'helm';
  const beat = setInterval(heartbeatIfInActivity, HEARTBEAT_EVERY_MS);
  return new Promise((resolve, reject) => {
    launchFile(
      binary,
      args,
      { timeout: timeoutMs, maxBuffer: 8 * 1024 * 1024, killSignal: 'SIGKILL' },
      (error, stdout, stderr) => {
        clearInterval(beat);
        if (!error) return resolve(stdout);
        const display = `helm ${args.slice(0, 2).join(' ')}`;
        if (error.code === 'ENOENT')
          return reject(
            ApplicationFailure.create({
              type: 'HelmMissing',
              nonRetryable: true,
              message: `helm is not installed or not on PATH of the worker (tried "${binary}")`,
            }),
          );
        const detail = error.killed
          ? `no answer within ${timeoutMs} ms`
          : scrubTail(stderr.trim().split('\n').slice(-5).join(' | '), secrets, 1_000) ||
            failureWithoutOutput(error);
        const permanent = PERMANENT.test(stderr);
        reject(
          ApplicationFailure.create({
            type: permanent ? 'HelmRejected' : 'HelmFailed',
            nonRetryable: permanent,
            message: `${display}: ${detail}`,
          }),
        );
      },
    );
  });
}

/** The value at a dotted key ("image.tag") of helm's values, if it is a string or number. */
function valueAt(values: unknown, key: string): string | undefined {
  let at: unknown = values;
  for (const part of key.split('.')) {
    if (!at || typeof at !== 'object') return undefined;
    at = (at as Record<string, unknown>)[part];
  }
  return typeof at === 'string' || typeof at === 'number' ? String(at) : undefined;
}

export function createHelmActivities(deps: {
  db: Pool;
  release: ReleaseRollbackPolicy | undefined;
  secrets: readonly string[];
}) {
  return {
    /**
     * Seed 001 §5 mechanism 2: `helm upgrade --reuse-values --set-string <key>=<tag> --wait`.
     * Check-then-act: a release that already has the tag is not upgraded again, and a completed
     * pin is in the delivery ledger, so a retry (worker killed mid-upgrade) returns the first answer.
     */
    pinHelmImageTag: async (raw: { tag: string; deliveryKey: string }): Promise<HelmPin> => {
      const input = parseInput(pinSchema, raw, 'pinHelmImageTag input');
      const policy = requiredSection(deps.release, 'runbooks.releaseRollback');
      const recorded = await deliveredReceipt<HelmPin>(deps.db, input.deliveryKey, 'helm-pin');
      if (recorded) return { ...recorded, replayed: true };
      const { helm } = policy;
      const target = helmTarget(policy);
      const started = Date.now();
      const values: unknown = JSON.parse(
        await runHelm(['get', 'values', helm.release, ...target, '--output', 'json'], 60_000, deps.secrets),
      );
      const previousTag = valueAt(values, helm.imageTagKey);
      const argv = helmPinArguments(policy, input.tag);
      const alreadyPinned = previousTag === input.tag;
      const output = alreadyPinned ? '' : await runHelm(argv, helm.timeout + 30_000, deps.secrets);
      const pin: HelmPin = {
        release: helm.release,
        key: helm.imageTagKey,
        tag: input.tag,
        ...(previousTag !== undefined ? { previousTag } : {}),
        alreadyPinned,
        argv: ['helm', ...argv],
        outputTail: scrubTail(output.trim().split('\n').slice(-10).join('\n'), deps.secrets, 2_000),
        durationMs: Date.now() - started,
        replayed: false,
      };
      await recordReceipt(deps.db, input.deliveryKey, 'helm-pin', pin);
      return pin;
    },
  };
}
