import { condition, proxyActivities } from '@temporalio/workflow';
import type { RunbookActivities } from '../../activities';
import { formatDuration, utcIso } from '../../common/duration';
import { atHandle, sameHandle } from '../../common/identity';
import type { StagingSoakPolicy } from '../../common/policy';
import { describeIssuesInline } from '../../common/validation';
import { kubectlMutation, kubectlRead } from '../activity-options';
import { handleDecision } from '../shared/decisions';
import { isPatched, PATCHES } from '../shared/patches';
import type { RefusalReason, RefusedAttempt } from '../shared/run-record';
import { verifySignedApproval } from '../shared/signed-approval';
import {
  WAIVE_STAGING_SOAK,
  waiveStagingSoakMessage,
  waiveStagingSoakPayloadSchema,
  type ReenablementResult,
  type StagingSoakRecord,
} from './definitions';
import type { ReenablementRun } from './run';

const k8s = proxyActivities<RunbookActivities>(kubectlRead);
const { startStagingSoak, stopStagingSoak } = proxyActivities<RunbookActivities>(kubectlMutation);

/**
 * Seed 002 §2, "fix verification (staging environment)": before any repo is re-enabled the fix
 * soaks in staging (a job the policy configures, 2–4 h), and a failed soak ends the run with
 * nothing re-enabled ("continue fix iteration"). Skipping it takes an explicit waiver, signed by an
 * approver other than the requester over the canary's allowlist change. Runs whose policy has no
 * `stagingSoak` (and runs recorded before `reenablement-staging-soak-v1`) go straight to the canary.
 */
export async function soakInStaging(
  run: ReenablementRun,
  repos: string[],
  canarySet: string[],
): Promise<ReenablementResult | undefined> {
  const soak = run.policy.stagingSoak;
  if (!soak || !isPatched(PATCHES.reenablementStagingSoak)) return undefined;
  return run.input.stagingSoakWaiver ? awaitWaiver(run, canarySet) : runSoak(run, soak, repos);
}

async function runSoak(
  run: ReenablementRun,
  soak: StagingSoakPolicy,
  repos: string[],
): Promise<ReenablementResult | undefined> {
  const { record, detail, controls } = run;
  record.enterStep(
    'staging_soak',
    `fix verification: soak ${formatDuration(soak.duration)} in ${soak.namespace} with ${repos.join(', ')} before the canary (seed 002 §2)`,
  );
  const started = await run.failSafe.step(
    { name: 'start_staging_soak', what: 'start the staging soak job', owners: run.policy.approvers },
    () => startStagingSoak({ repos }),
  );
  if (started.kind !== 'done') return abortedAfterFailedStart(run, started);
  const startedMs = Date.now();
  const giveUpMs = startedMs + soak.maxDuration;
  const soakRecord: StagingSoakRecord = {
    state: 'running',
    job: started.value.job,
    startedAt: utcIso(startedMs),
    readAt: utcIso(startedMs + soak.duration),
  };
  detail.stagingSoak = soakRecord;
  record.setDeadline('staging_soak', giveUpMs);
  record.event(
    'staging_soak_started',
    `soak job ${started.value.job} in ${soak.namespace}, result at ${soakRecord.readAt}`,
  );
  let readMs = startedMs + soak.duration;
  for (;;) {
    record.describe(
      `staging soak ${started.value.job} running; read at ${utcIso(readMs)} (gives up at ${utcIso(giveUpMs)})`,
    );
    await condition(() => controls.aborted !== undefined, Math.max(readMs - Date.now(), 1), {
      summary: `staging soak until ${utcIso(readMs)}`,
    });
    if (controls.aborted) {
      record.resolveDeadline('staging_soak', 'cancelled');
      if (isPatched(PATCHES.reenablementSoakStoppedOnAbort)) await stopSoak(run, soakRecord, giveUpMs);
      return run.abortRun();
    }
    const read = await run.failSafe.step(
      { name: 'read_staging_soak', what: 'read the staging soak job', owners: run.policy.approvers },
      () => k8s.readStagingSoak({ job: started.value.job }),
    );
    if (read.kind !== 'done') {
      // A human aborted after the read failed for good: the job would load staging until its deadline.
      if (isPatched(PATCHES.reenablementSoakStoppedAfterFailedRead)) {
        record.resolveDeadline('staging_soak', 'cancelled');
        await stopSoak(run, soakRecord, giveUpMs);
      }
      return run.abortedAfterFailure(read, 'read_staging_soak');
    }
    soakRecord.reading = read.value;
    const late = read.value.state === 'running' && Date.now() >= giveUpMs;
    if (read.value.state === 'running' && !late) {
      readMs = Math.min(Date.now() + soak.pollInterval, giveUpMs);
      continue;
    }
    const reasons = late
      ? [
          `still running ${formatDuration(Date.now() - startedMs)} after it started (at most ${formatDuration(soak.maxDuration)})`,
        ]
      : read.value.reasons;
    if (reasons.length === 0) {
      soakRecord.state = 'passed';
      record.resolveDeadline('staging_soak', 'met');
      record.event('staging_soak_passed', `soak ${started.value.job} passed: ${summaryText(soakRecord)}`);
      return undefined;
    }
    record.resolveDeadline('staging_soak', late ? 'missed' : 'met');
    return soakFailed(run, soakRecord, reasons);
  }
}

/**
 * A human aborted after the soak's start failed for good. An attempt may still have created the
 * job (its create went through, what followed did not), which would load staging with no reader.
 */
async function abortedAfterFailedStart(
  run: ReenablementRun,
  decided: { by: string; reason?: string },
): Promise<ReenablementResult> {
  if (isPatched(PATCHES.reenablementSoakStoppedAfterFailedStart)) {
    const unstarted: StagingSoakRecord = { state: 'stopped' };
    await stopSoak(run, unstarted, undefined);
    run.detail.stagingSoak = unstarted;
  }
  return run.abortedAfterFailure(decided, 'start_staging_soak');
}

/** The soak did not pass: nothing was re-enabled; the IC hears why (seed 002 §2: continue the fix iteration). */
function soakFailed(
  run: ReenablementRun,
  soak: StagingSoakRecord,
  reasons: string[],
): Promise<ReenablementResult> {
  soak.state = 'failed';
  run.notices.send({
    kind: 'staging_soak_failed',
    severity: 'warning',
    audience: 'incident_commander',
    recipients: [run.requestedBy, ...run.policy.approvers],
    subject: `${run.tag} staging soak failed: nothing re-enabled`,
    body: `Soak job ${soak.job}: ${reasons.join('; ')}.\nSeed 002 §2: continue the fix iteration, then start the re-enablement again.`,
  });
  return run.finish(
    'staging_soak_failed',
    `the staging soak did not pass (${reasons.join('; ')}); nothing was re-enabled, the allowlist stays ${run.detail.reposLive.join(',')}`,
  );
}

/**
 * An aborted run deletes its soak job: left running it loads staging until its deadline, beside
 * the soak of the run started next. A delete that fails for good asks a human (skip: leave it).
 * `soak.job` unknown (its start failed): the job this run's start would have created, if any.
 * `deadlineMs` unknown: the job may never have been given its deadline.
 */
async function stopSoak(
  run: ReenablementRun,
  soak: StagingSoakRecord,
  deadlineMs: number | undefined,
): Promise<void> {
  const job = soak.job;
  const stopped = await run.failSafe.step(
    {
      name: 'stop_staging_soak',
      what: job
        ? `delete the staging soak job ${job}`
        : `delete the staging soak job this run's start may have created`,
      owners: run.policy.approvers,
      skip:
        deadlineMs === undefined
          ? 'leave it: it runs until its soak command ends (its deadline may not be set)'
          : `leave it running: Kubernetes stops it at its deadline, ${utcIso(deadlineMs)}`,
    },
    () => stopStagingSoak(job ? { job } : {}),
  );
  soak.state = 'stopped';
  if (stopped.kind === 'done') soak.job = stopped.value.job;
  const at = utcIso(Date.now());
  soak.stopped =
    stopped.kind === 'done'
      ? { at, deleted: stopped.value.deleted }
      : { at, left: `${stopped.kind} by ${stopped.by}${stopped.reason ? `: ${stopped.reason}` : ''}` };
  const named = soak.job ? `soak job ${soak.job}` : "this run's soak job (if its start created one)";
  run.record.event(
    'staging_soak_stopped',
    stopped.kind === 'done'
      ? `${named} ${stopped.value.deleted ? 'deleted' : job ? 'already gone' : 'not there (never created)'}`
      : `${named} left running${deadlineMs === undefined ? '' : ` until ${utcIso(deadlineMs)}`} (${soak.stopped.left})`,
  );
}

function summaryText(soak: StagingSoakRecord): string {
  const summary = soak.reading?.summary;
  return summary
    ? `success rate ${(summary.successRate * 100).toFixed(2)} %, p95 ${summary.p95Seconds} s, ${summary.recurrences} recurrences`
    : 'no summary';
}

/** The requester asked to waive the soak: an approver's signed waiver, or the run ends in time. */
async function awaitWaiver(
  run: ReenablementRun,
  canarySet: string[],
): Promise<ReenablementResult | undefined> {
  const { record, detail, controls, notices, tag, policy, input } = run;
  const planned = await run.failSafe.step(
    { name: 'plan_canary', what: 'compute the canary allowlist change', owners: policy.approvers },
    () => k8s.planAllowlistChange({ repos: canarySet }),
  );
  if (planned.kind !== 'done') return run.abortedAfterFailure(planned, 'plan_canary');
  const { planHash } = planned.value;
  const soak: StagingSoakRecord = { state: 'awaiting_waiver', planHash };
  detail.stagingSoak = soak;
  const deadlineMs = Date.now() + policy.approvalTimeout;
  const signers = policy.approvers.filter((who) => !sameHandle(who, run.requestedBy)).map(atHandle);
  record.enterStep(
    'awaiting_soak_waiver',
    `staging soak waiver asked (${input.stagingSoakWaiver!.reason}): ${signers.join(' or ')} signs decision ${WAIVE_STAGING_SOAK} over planHash ${planHash} until ${utcIso(deadlineMs)}`,
  );
  record.setDeadline('staging_soak_waiver', deadlineMs);
  notices.send({
    kind: 'approval_request',
    severity: 'warning',
    audience: 'approvers',
    recipients: signers,
    subject: `${tag} waive the staging soak? (asked by ${run.requestedBy})`,
    body: `Reason: ${input.stagingSoakWaiver!.reason}\nA waiver re-enables ${input.canaryRepo} without the seed's 2–4 h staging soak.\nSign it: waive-soak --incident ${input.incidentId} --by @you --plan-hash ${planHash} --sign-key <your key>`,
    code: [{ label: 'planHash', text: planHash }],
  });
  await condition(
    () => soak.state === 'waived' || controls.aborted !== undefined,
    Math.max(deadlineMs - Date.now(), 1),
    {
      summary: `staging soak waiver until ${utcIso(deadlineMs)}`,
    },
  );
  if (soak.state === 'waived') {
    record.resolveDeadline('staging_soak_waiver', 'met');
    record.flag(
      'staging_soak_waived',
      `the staging soak was waived by ${soak.waiver!.by} (key ${soak.waiver!.key}): ${soak.waiver!.reason}`,
    );
    return undefined;
  }
  if (controls.aborted) {
    record.resolveDeadline('staging_soak_waiver', 'cancelled');
    return run.abortRun();
  }
  soak.state = 'waiver_expired';
  record.resolveDeadline('staging_soak_waiver', 'missed');
  return run.finish(
    'staging_soak_waiver_expired',
    `no signed waiver of the staging soak within ${formatDuration(policy.approvalTimeout)}; nothing was re-enabled, the allowlist stays ${detail.reposLive.join(',')}`,
  );
}

/** Installs the `waiveStagingSoak` signal and Update (before the run's first await). */
export function handleSoakWaiver(run: ReenablementRun): void {
  handleDecision(run.record, waiveStagingSoakMessage, (raw) => onWaive(run, raw));
}

async function onWaive(run: ReenablementRun, raw: unknown): Promise<RefusedAttempt | null> {
  const { record, detail } = run;
  const refuse = (reason: RefusalReason, text: string, by?: string) =>
    record.refused({ signal: 'waiveStagingSoak', reason, detail: text, ...(by ? { by } : {}) });
  const parsed = waiveStagingSoakPayloadSchema.safeParse(raw);
  if (!parsed.success)
    return refuse('invalid_payload', describeIssuesInline(parsed.error, 'waiveStagingSoak payload'));
  const waiver = parsed.data;
  const by = atHandle(waiver.by);
  const refusal = waiverRefusal(run, by, waiver.planHash);
  if (refusal) return refuse(refusal.reason, refusal.detail, by);
  const verdict = await verifySignedApproval(
    { approver: by, planHash: waiver.planHash, signature: waiver.signature, signedAt: waiver.signedAt },
    run.policy.signatureMaxAge,
    WAIVE_STAGING_SOAK,
  );
  if (!verdict.ok) return refuse(verdict.reason, verdict.detail, by);
  // Another waiver may have counted while this signature was checked.
  const late = waiverRefusal(run, by, waiver.planHash);
  if (late) return refuse(late.reason, late.detail, by);
  const soak = detail.stagingSoak!;
  soak.state = 'waived';
  soak.waiver = {
    by,
    key: verdict.fingerprint,
    reason: waiver.reason ?? run.input.stagingSoakWaiver!.reason,
    at: utcIso(Date.now()),
  };
  record.event('staging_soak_waived', `staging soak waived (signed, key ${verdict.fingerprint})`, by);
  return null;
}

function waiverRefusal(
  run: ReenablementRun,
  by: string,
  planHash: string,
): { reason: RefusalReason; detail: string } | undefined {
  const soak = run.detail.stagingSoak;
  if (soak?.state === 'waived')
    return { reason: 'already_decided', detail: `already waived by ${soak.waiver!.by}` };
  if (soak?.state !== 'awaiting_waiver' || !soak.planHash)
    return { reason: 'gate_not_open', detail: 'the run is not waiting for a staging soak waiver' };
  if (!run.policy.approvers.some((member) => sameHandle(member, by)))
    return { reason: 'not_on_roster', detail: `${by} is not an approver for this runbook` };
  if (sameHandle(by, run.requestedBy))
    return {
      reason: 'self_approval',
      detail: `${by} asked for the waiver and cannot sign it: another approver must`,
    };
  if (planHash !== soak.planHash)
    return {
      reason: 'plan_hash_mismatch',
      detail: `planHash ${planHash} is not the canary change awaiting the waiver, ${soak.planHash}`,
    };
  return undefined;
}
