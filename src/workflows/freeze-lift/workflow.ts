import { proxyActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import type {
  ChangeFreeze,
  IncidentRunState,
  RunbookActivities,
  RunbookPolicySnapshot,
} from '../../activities';
import { formatDuration, utcIso } from '../../common/duration';
import { atHandle, sameHandle } from '../../common/identity';
import { sha256Hex } from '../../common/sha256';
import { databaseRead, databaseWrite, policyRead, temporalRead } from '../activity-options';
import { approveCliLine } from '../shared/approval-block';
import { announcingCancellation } from '../shared/cancellation';
import { FailSafe } from '../shared/fail-safe';
import { RunControls, type GateDecision } from '../shared/gates';
import { parseWorkflowInput, servedSection } from '../shared/input';
import { incidentWorkflowId } from '../incident/definitions';
import { statusQuery } from '../shared/messages';
import { Notices } from '../shared/notices';
import { isPatched, PATCHES } from '../shared/patches';
import { RunRecord } from '../shared/run-record';
import {
  FREEZE_LIFT,
  freezeLiftInputSchema,
  type FreezeLiftDetail,
  type FreezeLiftInput,
  type FreezeLiftInputParsed,
  type FreezeLiftOutcome,
  type FreezeLiftResult,
} from './definitions';

const { loadRunbookPolicy } = proxyActivities<RunbookActivities>(policyRead);
const { readIncidentRun } = proxyActivities<RunbookActivities>(temporalRead);
const { readIncidentFreezes } = proxyActivities<RunbookActivities>(databaseRead);
const { liftChangeFreeze } = proxyActivities<RunbookActivities>(databaseWrite);

type IncidentSection = NonNullable<RunbookPolicySnapshot<'incident'>['runbook']>;

/**
 * Lifts an incident's change freeze by hand (seed 004 §1.3), for when the incident's own run
 * cannot: it was cancelled, terminated or failed, or its lift was skipped. Refused while the
 * incident is open and unresolved (its resolution lifts the freeze), and to anyone who is not one
 * of the incident policy's responders or the incident's commander. Who and why are recorded on the
 * freeze and told to the incident's commander and whoever froze it.
 */
export async function freezeLift(rawInput: FreezeLiftInput): Promise<FreezeLiftResult> {
  const input = parseWorkflowInput(freezeLiftInputSchema(), rawInput, 'freezeLift input');
  const run = new FreezeLiftRun(input);
  return announcingCancellation(run, () => lift(run));
}

class FreezeLiftRun {
  readonly record: RunRecord<FreezeLiftDetail>;
  readonly detail: FreezeLiftDetail;
  readonly notices: Notices;
  readonly failSafe: FailSafe;
  readonly requester: string;
  readonly tag: string;
  private responders: string[] = [];
  /** The incident policy's signed-lift settings (requireSignedFreezeLifts; absent in policies recorded before). */
  signing?: Pick<IncidentSection, 'freezeLiftApprovalTimeout' | 'signatureMaxAge'>;

  constructor(readonly input: FreezeLiftInputParsed) {
    this.requester = atHandle(input.requestedBy);
    this.record = new RunRecord<FreezeLiftDetail>(FREEZE_LIFT, input.incidentId, {
      incidentId: input.incidentId,
      requestedBy: this.requester,
      reason: input.reason,
      ...(input.environment ? { environment: input.environment } : {}),
      lifted: [],
    });
    setHandler(statusQuery, () => this.record.status);
    this.detail = this.record.status.detail;
    this.notices = new Notices(this.record);
    this.tag = `[${input.incidentId} freeze lift]`;
    this.record.setMemoSummary(
      `Change freeze lift of incident ${input.incidentId}${input.environment ? ` (${input.environment})` : ''}, asked by ${this.requester}`,
    );
    this.failSafe = new FailSafe(this.record, this.notices, {
      tag: this.tag,
      incidentCommander: this.requester,
      mayDecide: (by) => this.mayDecide(by),
      account: () => this.account(),
    });
  }

  configure(snapshot: RunbookPolicySnapshot<'incident'>, section: IncidentSection): void {
    this.responders = section.responders.map(atHandle);
    if (section.requireSignedFreezeLifts) this.signing = section;
    this.notices.configure(snapshot.notifications);
    this.failSafe.configure(snapshot.failSafe);
    this.record.markTestOnlyIf(snapshot.testOnlyShortDurations);
  }

  /** The incident's commander, when its run said. */
  get commander(): string | undefined {
    const run = this.detail.incidentRun;
    return run?.found && run.commander ? atHandle(run.commander) : undefined;
  }

  /** The incident policy's responders and the incident's commander. */
  get deciders(): string[] {
    return [...this.responders, ...(this.commander ? [this.commander] : [])];
  }

  /** Who the lift is recorded as done by: the signed approver when there is one, else the requester. */
  get liftedBy(): string {
    return this.detail.approvedBy ?? this.requester;
  }

  mayDecide(by: string): boolean {
    return sameHandle(by, this.requester) || this.deciders.some((who) => sameHandle(who, by));
  }

  account(): string {
    const { lifted, freezes } = this.detail;
    const inForce = (freezes ?? []).filter((freeze) => !freeze.liftedAt).length;
    return lifted.length > 0
      ? `lifted: ${lifted.map((freeze) => freeze.environment).join(', ')} of ${inForce} in force`
      : 'no freeze lifted';
  }

  async finish(outcome: FreezeLiftOutcome, message: string): Promise<FreezeLiftResult> {
    const { record } = this;
    record.finish(outcome, message);
    await this.notices.settle();
    return {
      runbook: FREEZE_LIFT,
      outcome,
      message,
      workflowId: record.status.workflowId,
      incidentId: this.input.incidentId,
      lifted: this.detail.lifted,
      ...(this.detail.dryRun ? { dryRun: this.detail.dryRun } : {}),
      ...record.resultTrail(),
    };
  }
}

async function lift(run: FreezeLiftRun): Promise<FreezeLiftResult> {
  const { input, record, detail, failSafe } = run;
  record.enterStep('load_policy', 'reading the worker policy');
  const snapshot = await loadRunbookPolicy({ runbook: 'incident' });
  run.configure(snapshot, servedSection('incident', snapshot));

  record.enterStep('read_incident', `reading incident ${input.incidentId}'s run from Temporal`);
  const incidentRun = await failSafe.step(
    { name: 'read_incident', what: `read incident ${input.incidentId}'s run from Temporal` },
    () => readIncidentRun({ workflowId: incidentWorkflowId(input.incidentId) }),
  );
  if (incidentRun.kind !== 'done') return aborted(run, incidentRun, 'while the incident could not be read');
  detail.incidentRun = incidentRun.value;

  if (!run.deciders.some((who) => sameHandle(who, run.requester)))
    return run.finish(
      'refused_not_responder',
      `${run.requester} may not lift incident ${input.incidentId}'s freeze: the incident's responders (${run.deciders.join(', ')}) may. Nothing was changed`,
    );
  const open = openAndUnresolved(incidentRun.value);
  if (open) return run.finish('refused_incident_open', open);

  record.enterStep('read_freezes', `reading incident ${input.incidentId}'s change freezes`);
  const read = await failSafe.step(
    { name: 'read_freezes', what: `read incident ${input.incidentId}'s change freezes` },
    () => readIncidentFreezes({ incidentId: input.incidentId }),
  );
  if (read.kind !== 'done') return aborted(run, read, 'while the freezes could not be read');
  detail.freezes = read.value;
  const inForce = read.value.filter(
    (freeze) => !freeze.liftedAt && (!input.environment || freeze.environment === input.environment),
  );
  if (inForce.length === 0) return run.finish('not_frozen', notFrozen(input, read.value));
  if (input.dryRun) return planOnly(run, inForce);

  if (run.signing && isPatched(PATCHES.freezeLiftSigned)) {
    const decision = await signedApproval(run, run.signing, inForce);
    if (decision.kind !== 'approved') return closedUnapproved(run, decision);
    detail.approvedBy = decision.approver;
    if (decision.keys?.[0]) detail.approvalKey = decision.keys[0];
  }

  record.enterStep('lift_freeze', `lifting ${inForce.map((freeze) => freeze.environment).join(', ')}`);
  for (const freeze of inForce) {
    const lifted = await failSafe.step(
      { name: 'lift_freeze', what: `lift incident ${input.incidentId}'s freeze of ${freeze.environment}` },
      () =>
        liftChangeFreeze({
          incidentId: input.incidentId,
          environment: freeze.environment,
          by: run.liftedBy,
          reason: input.reason,
          at: utcIso(Date.now()),
        }),
    );
    if (lifted.kind !== 'done') return aborted(run, lifted, `before ${freeze.environment} was lifted`);
    if (lifted.value) detail.lifted.push(lifted.value);
  }
  announce(run);
  const environments = detail.lifted.map((freeze) => freeze.environment).join(', ');
  return run.finish(
    'lifted',
    `${environments} no longer frozen by incident ${input.incidentId}: lifted by ${liftedByText(run)}: ${input.reason}`,
  );
}

/** Plan only: the freezes a lift would lift now, and whether a signed approval would be asked first. */
function planOnly(run: FreezeLiftRun, inForce: ChangeFreeze[]): Promise<FreezeLiftResult> {
  const signedApprovalRequired = run.signing !== undefined;
  run.detail.dryRun = { wouldLift: inForce, signedApprovalRequired };
  const freezes = inForce
    .map((freeze) => `${freeze.environment} (frozen at ${freeze.frozenAt} by ${freeze.frozenBy})`)
    .join(', ');
  return run.finish(
    'dry_run',
    `dry run: would lift incident ${run.input.incidentId}'s freeze of ${freezes}${signedApprovalRequired ? ` after a responder's signed approval (${run.deciders.join(', ')})` : ''}; nothing was lifted`,
  );
}

/** "@b (signed approval, key …) at @a's request" when a responder other than the requester approved. */
function liftedByText(run: FreezeLiftRun): string {
  const { approvedBy, approvalKey } = run.detail;
  if (!approvedBy) return run.requester;
  const signed = `${approvedBy} (signed approval${approvalKey ? `, key ${approvalKey}` : ''})`;
  return sameHandle(approvedBy, run.requester) ? signed : `${signed} at ${run.requester}'s request`;
}

/**
 * Signed lifts: the gate opens on exactly this lift (the planHash covers the run, the incident, the
 * environments, the requester and the reason) and waits for a responder's or the commander's
 * approval signed with their key from the policy's signers; the requester may sign their own.
 */
async function signedApproval(
  run: FreezeLiftRun,
  signing: NonNullable<FreezeLiftRun['signing']>,
  inForce: ChangeFreeze[],
): Promise<GateDecision> {
  const { input, record, notices } = run;
  const environments = inForce.map((freeze) => freeze.environment);
  const planHash = sha256Hex(
    JSON.stringify({
      runId: workflowInfo().runId,
      incidentId: input.incidentId,
      environments,
      requestedBy: run.requester,
      reason: input.reason,
    }),
  );
  const controls = new RunControls(record, notices, run.requester);
  controls.configure({
    approvers: run.deciders,
    soleOperator: true,
    requireSignedApprovals: true,
    signatureMaxAge: signing.signatureMaxAge,
  });
  controls.attachFailSafe(run.failSafe);
  const dueAt = utcIso(Date.now() + signing.freezeLiftApprovalTimeout);
  const what = `lift incident ${input.incidentId}'s freeze of ${environments.join(', ')}`;
  record.enterStep('awaiting_approval', `awaiting a responder's signed approval to ${what} until ${dueAt}`);
  const cliLine = approveCliLine(record.status.workflowId, planHash, true);
  notices.send({
    kind: 'approval_request',
    severity: 'warning',
    audience: 'approvers',
    recipients: run.deciders,
    subject: `${run.tag} signed approval requested by ${run.requester}: ${what}`,
    body: [
      `Requested by ${run.requester}: ${input.reason}`,
      `The incident policy requires a responder's signed approval before a freeze is lifted by hand (the requester may sign their own).`,
      `planHash: ${planHash}; expires at ${dueAt} (in ${formatDuration(signing.freezeLiftApprovalTimeout)}).`,
      `  CLI: ${cliLine}`,
      `Reject: signal "reject" with {"approver":"@you","reason":"…"}; nothing is lifted.`,
    ].join('\n'),
    code: [
      { label: 'planHash', text: planHash },
      { label: 'from a terminal', text: cliLine },
    ],
  });
  const decision = await controls.awaitDecision(planHash, signing.freezeLiftApprovalTimeout);
  // Lifting is one write per environment, no pause: an abort from here on is too late.
  if (decision.kind === 'approved') controls.passPointOfNoReturn(`the lift of ${environments.join(', ')}`);
  return decision;
}

/** Rejected, expired or aborted at the signed-lift gate: nothing was lifted; the requester is told. */
function closedUnapproved(
  run: FreezeLiftRun,
  decision: Exclude<GateDecision, { kind: 'approved' }>,
): Promise<FreezeLiftResult> {
  const [outcome, message] =
    decision.kind === 'rejected'
      ? (['rejected', `rejected by ${decision.approver}: ${decision.reason}`] as const)
      : decision.kind === 'expired'
        ? (['approval_expired', "no responder's signed approval in time"] as const)
        : (['aborted', `aborted by ${decision.by}: ${decision.reason}`] as const);
  run.notices.send({
    kind: outcome,
    severity: 'info',
    audience: 'incident_commander',
    recipients: [run.requester],
    subject: `${run.tag} freeze not lifted: ${message}`,
    body: `Incident ${run.input.incidentId}'s freeze is still in force; start a new lift if it is still needed.`,
  });
  return run.finish(outcome, `${message}; nothing was lifted`);
}

/** Why an open incident's freeze is its own to lift, or undefined when it may be lifted here. */
function openAndUnresolved(incident: IncidentRunState): string | undefined {
  if (!incident.found || !incident.open || incident.resolution) return undefined;
  const unread = incident.statusUnreadable
    ? ` (its status could not be read: ${incident.statusUnreadable})`
    : '';
  return `incident ${incident.workflowId} is open and not resolved${unread}: its freeze lifts when it is resolved (npm run cli -- resolve-incident). To change something before, start that runbook with "freezeOverride": {"by": "@you", "reason": "..."}. Nothing was changed`;
}

function notFrozen(input: FreezeLiftInputParsed, freezes: ChangeFreeze[]): string {
  const scope = input.environment ? ` on ${input.environment}` : '';
  const earlier = freezes
    .filter((freeze) => freeze.liftedAt && (!input.environment || freeze.environment === input.environment))
    .map((freeze) => `${freeze.environment} lifted at ${freeze.liftedAt} by ${freeze.liftedBy ?? 'unknown'}`);
  return `incident ${input.incidentId} has no change freeze in force${scope}${earlier.length ? ` (${earlier.join('; ')})` : ''}; nothing was changed`;
}

/** What this run lifted is told to the incident's commander, whoever froze, and the requester. */
function announce(run: FreezeLiftRun): void {
  const { input, detail } = run;
  const freezes = detail.lifted;
  const frozenBy = freezes.map((freeze) => freeze.frozenBy).filter((by) => by.startsWith('@'));
  const recipients = [
    ...new Set([run.requester, run.liftedBy, ...(run.commander ? [run.commander] : []), ...frozenBy]),
  ];
  const incident = detail.incidentRun;
  const state = incident?.found ? `its run is ${incident.status.toLowerCase()}` : 'no run of it was found';
  run.notices.send({
    kind: 'incident_freeze',
    severity: 'warning',
    audience: 'incident_commander',
    recipients,
    subject: `${run.tag} change freeze on ${freezes.map((freeze) => freeze.environment).join(', ')} lifted by hand`,
    body: `Incident ${input.incidentId}'s freeze was lifted by ${liftedByText(run)} (${state}): ${input.reason}. Mutating runbooks no longer refuse to act on it.`,
  });
}

function aborted(
  run: FreezeLiftRun,
  outcome: { kind: 'skipped' | 'aborted'; by: string; reason?: string | undefined },
  when: string,
): Promise<FreezeLiftResult> {
  // A freeze lifted before the abort is lifted: those who rely on it are told.
  if (run.detail.lifted.length > 0) announce(run);
  return run.finish(
    'aborted',
    `aborted by ${outcome.by}${outcome.reason ? `: ${outcome.reason}` : ''} ${when}; ${run.account()}`,
  );
}
