import { ApplicationFailure, condition, proxyActivities, setHandler } from '@temporalio/workflow';
import type { RunbookActivities, RunbookPolicySnapshot } from '../../activities';
import { renderApprovalLine } from '../../common/break-glass';
import { formatDuration, utcIso } from '../../common/duration';
import { normalizeHandle } from '../../common/identity';
import { describeIssues } from '../../common/validation';
import { databaseRead, databaseWrite, notification, policyRead } from '../activity-options';
import { RunControls } from '../shared/gates';
import { parseWorkflowInput } from '../shared/input';
import { statusQuery } from '../shared/messages';
import { Notices } from '../shared/notices';
import { RunRecord } from '../shared/run-record';
import {
  BREAK_GLASS_RESTORE,
  breakGlassRestoreInputSchema,
  checkReconciliationSignal,
  postMortemFiledPayloadSchema,
  postMortemFiledSignal,
  type BreakGlassRestoreDetail,
  type BreakGlassRestoreInput,
  type BreakGlassRestoreOutcome,
  type BreakGlassRestoreResult,
  type PostMortemComment,
  type ReconciliationRecord,
  type RestoreCommitted,
} from './definitions';
import { renderPostMortem } from './post-mortem';

const { loadRunbookPolicy } = proxyActivities<RunbookActivities>(policyRead);
const { planRestore, verifyRestore, findReconcilingWrite } = proxyActivities<RunbookActivities>(databaseRead);
const { executeRestore } = proxyActivities<RunbookActivities>(databaseWrite);
const { commentOnWorkPackage, commentOnGitHubIssue } = proxyActivities<RunbookActivities>(notification);

/**
 * Break-glass Procedure A: inspect & plan → approval gate → pause-and-think → one restore
 * transaction → verify → reconciliation (60 min) and post-mortem (24 h) obligations.
 */
export async function breakGlassRestore(rawInput: BreakGlassRestoreInput): Promise<BreakGlassRestoreResult> {
  const input = parseWorkflowInput(breakGlassRestoreInputSchema, rawInput, 'breakGlassRestore input');
  const requestedBy = `@${normalizeHandle(input.requestedBy)}`;
  const record = new RunRecord<BreakGlassRestoreDetail>(BREAK_GLASS_RESTORE, input.incidentId, {
    requestedBy,
    targetHistoryId: input.targetHistoryId,
    rationale: input.rationale,
    dryRun: input.dryRun,
  });
  const detail = record.status.detail;
  setHandler(statusQuery, () => record.status);
  const notices = new Notices(record);
  const controls = new RunControls(record, notices, requestedBy);
  const tag = `[break-glass A ${input.incidentId}]`;
  record.setMemoSummary(
    `Procedure A: restore ftf_config from history id ${input.targetHistoryId} for incident ${input.incidentId}, requested by ${requestedBy}`,
  );

  // Obligation signals are installed up front so an early or stray one is refused and recorded.
  let reconciliationCheckRequested = false;
  setHandler(checkReconciliationSignal, () => {
    reconciliationCheckRequested = true;
  });
  setHandler(postMortemFiledSignal, (raw) => onPostMortemFiled(raw));

  const finish = async (
    outcome: BreakGlassRestoreOutcome,
    message: string,
  ): Promise<BreakGlassRestoreResult> => {
    record.finish(outcome, message);
    await notices.settle();
    return buildResult(outcome, message);
  };

  // 1. Policy, read through an activity so the run keeps the rules it started with.
  record.enterStep('load_policy', 'reading the worker policy');
  const snapshot = await loadRunbookPolicy({ runbook: 'breakGlassRestore' });
  const policy = snapshot.runbook;
  controls.configure({ approvers: policy.approvers, soleOperator: policy.soleOperator });
  notices.configure(snapshot.notifications);
  const page = (topic: string, action: 'trigger' | 'resolve' = 'trigger') => ({
    action,
    dedupKey: `${record.status.workflowId}/${topic}`,
  });

  // 2. Inspect & plan.
  record.enterStep(
    'inspect_and_plan',
    `inspecting history and planning the restore of id ${input.targetHistoryId}`,
  );
  const planned = await planRestore({ incidentId: input.incidentId, targetHistoryId: input.targetHistoryId });
  if (planned.status !== 'ready') {
    notices.send({
      kind: planned.status,
      severity: 'warning',
      audience: 'incident_commander',
      subject: `${tag} cannot plan the restore: ${planned.status}`,
      body: planned.message,
    });
    return finish(planned.status, planned.message);
  }
  const plan = planned.plan;
  detail.plan = plan;
  const planSummary =
    `restore history id ${plan.target.id} (version ${plan.target.version}) over live version ${plan.live.version}: ` +
    `${plan.diff.changed} keys change, ${plan.diff.added} added, ${plan.diff.removed} removed, ${plan.diff.unchanged} unchanged`;
  record.noteStep(planSummary);
  detail.approvalLineTemplate = renderApprovalLine({
    incidentId: input.incidentId,
    story: snapshot.story,
    rationale: input.rationale,
    approver: '@<approver>',
    approvalTs: '<UTC iso at approval>',
  });
  if (input.dryRun) {
    return finish('dry_run', `dry run: ${planSummary}; planHash ${plan.planHash}; nothing was changed`);
  }

  // 3. Approval gate.
  record.enterStep(
    'awaiting_approval',
    `awaiting approval of planHash ${plan.planHash.slice(0, 12)}… by ${policy.approvers.join(', ')} — expires in ${formatDuration(policy.approvalTimeout)}`,
  );
  const approvalDueAt = utcIso(Date.now() + policy.approvalTimeout);
  notices.send({
    kind: 'approval_request',
    severity: 'warning',
    audience: 'approvers',
    recipients: policy.approvers,
    subject: `${tag} approval requested by ${requestedBy}: ${planSummary}`,
    body: approvalRequestBody(plan.planHash, planSummary, snapshot, detail.approvalLineTemplate),
    details: [
      { label: 'Target', value: `history id ${plan.target.id} (version ${plan.target.version})` },
      { label: 'Live now', value: `version ${plan.live.version}` },
      { label: 'Changed keys', value: String(plan.diff.changed + plan.diff.added + plan.diff.removed) },
      { label: 'Requested by', value: requestedBy },
      { label: 'Approve by', value: approvalDueAt },
      { label: 'Pause after approval', value: formatDuration(policy.pause) },
    ],
    code: [
      { label: 'planHash', text: plan.planHash },
      { label: 'Approval line (recorded at approval)', text: detail.approvalLineTemplate },
      {
        label: `Approve: signal "approve" to ${record.status.workflowId}`,
        text: JSON.stringify({ approver: '@you', planHash: plan.planHash }),
      },
      {
        label: 'or from a terminal',
        text: `npm run cli -- approve --workflow-id ${record.status.workflowId} --approver @you --plan-hash ${plan.planHash}`,
      },
    ],
  });
  const decision = await controls.awaitDecision(plan.planHash, policy.approvalTimeout);
  if (decision.kind === 'rejected') {
    notices.send({
      kind: 'rejected',
      severity: 'info',
      audience: 'incident_commander',
      subject: `${tag} rejected by ${decision.approver}`,
      body: decision.reason,
    });
    return finish('rejected', `rejected by ${decision.approver}: ${decision.reason}; nothing was executed`);
  }
  if (decision.kind === 'expired') {
    notices.send({
      kind: 'approval_expired',
      severity: 'warning',
      audience: 'incident_commander',
      subject: `${tag} approval expired`,
      body: `No decision within ${formatDuration(policy.approvalTimeout)}; nothing was executed. Start a new run if still needed.`,
    });
    return finish(
      'approval_expired',
      `no approval within ${formatDuration(policy.approvalTimeout)}; nothing was executed`,
    );
  }
  if (decision.kind === 'aborted') {
    return finish(
      'aborted',
      `aborted by ${decision.by} before approval: ${decision.reason}; nothing was executed`,
    );
  }
  const approvalTs = utcIso(decision.atMs);
  detail.approval = {
    approver: decision.approver,
    approvedAt: approvalTs,
    planHash: plan.planHash,
    rationale: decision.rationale ?? input.rationale,
    line: renderApprovalLine({
      incidentId: input.incidentId,
      story: snapshot.story,
      rationale: decision.rationale ?? input.rationale,
      approver: decision.approver,
      approvalTs,
    }),
  };

  // 4. Pause-and-think, measured from the approval instant.
  const executesAtMs = decision.atMs + policy.pause;
  detail.executesAt = utcIso(executesAtMs);
  record.enterStep(
    'pause_and_think',
    `approved by ${decision.approver}; SQL executes at ${detail.executesAt} unless aborted (signal "abort")`,
  );
  notices.send({
    details: [
      { label: 'Approved by', value: decision.approver },
      { label: 'SQL executes at (UTC)', value: detail.executesAt },
    ],
    code: [{ label: 'Approval line', text: detail.approval.line }],
    kind: 'pause_started',
    severity: 'warning',
    audience: 'incident_commander',
    subject: `${tag} approved by ${decision.approver}; SQL executes at ${detail.executesAt}`,
    body: `${detail.approval.line}\nThe restore transaction runs at ${detail.executesAt} (UTC). Send "abort" {"by","reason"} before then to stop it.`,
  });
  const paused = await controls.pauseUntil(executesAtMs);
  if (paused.kind === 'aborted') {
    notices.send({
      kind: 'aborted',
      severity: 'info',
      audience: 'incident_commander',
      subject: `${tag} aborted by ${paused.abort.by} during the pause`,
      body: `${paused.abort.reason}\nNothing was executed.`,
    });
    return finish(
      'aborted',
      `aborted by ${paused.abort.by} during the pause: ${paused.abort.reason}; nothing was executed`,
    );
  }

  // 5. Execute: one transaction, re-checked against the approved plan, ledgered.
  controls.passPointOfNoReturn('the restore transaction');
  record.enterStep('execute', `executing the restore of history id ${plan.target.id}`);
  const ledgerKey = `${record.status.workflowId}/${record.status.runId}/execute-restore`;
  let executed;
  try {
    executed = await executeRestore({
      ledgerKey,
      incidentId: input.incidentId,
      targetHistoryId: input.targetHistoryId,
      expectedFingerprint: plan.live.fingerprint,
      planHash: plan.planHash,
      workflowId: record.status.workflowId,
      runId: record.status.runId,
      requestedBy,
      approver: decision.approver,
      approvalLine: detail.approval.line,
      rationale: detail.approval.rationale,
    });
  } catch (error) {
    const message =
      `the restore transaction failed after its retries: ${describe(error)}. Whether it committed is recorded in ` +
      `runbook_ledger under key ${ledgerKey}; check it before retrying.`;
    record.nonConformity('execution_failed', message);
    notices.send({
      kind: 'execution_failed',
      severity: 'critical',
      audience: 'escalation',
      page: page('execute'),
      subject: `${tag} restore FAILED`,
      body: message,
    });
    record.finish('execution_failed', message);
    await notices.settle();
    throw ApplicationFailure.create({
      message,
      type: 'ExecutionFailed',
      nonRetryable: true,
      details: [buildResult('execution_failed', message)],
    });
  }
  detail.execution = executed;
  if (executed.status !== 'restored') {
    notices.send({
      kind: executed.status,
      severity: 'warning',
      audience: 'incident_commander',
      subject: `${tag} restore refused: ${executed.status}`,
      body: executed.message,
    });
    return finish(executed.status, executed.message);
  }
  const execution: RestoreCommitted = executed;
  const executedAtMs = Date.now();
  record.event(
    'executed',
    `restore committed: history row id=${execution.historyId}, live version ${execution.liveVersion}`,
  );

  // 6. Verify (seed step 4).
  record.enterStep(
    'verify',
    'verifying the live row, the break-glass history row and the canonical comparison',
  );
  const verification = await verifyRestore({
    incidentId: input.incidentId,
    targetHistoryId: input.targetHistoryId,
    restoreHistoryId: execution.historyId,
    expectedVersion: plan.expectedVersion,
  });
  detail.verification = verification;
  const counts = `NEW ${verification.canonical.new} / EQUAL ${verification.canonical.equal} / CONFLICT ${verification.canonical.conflict}`;
  if (!verification.ok) {
    const problems = [...verification.liveRow.problems, ...verification.historyRow.problems].join('; ');
    record.flag('verification_failed', `verification found problems: ${problems}`);
    notices.send({
      kind: 'verification_failed',
      severity: 'critical',
      audience: 'incident_commander',
      page: page('verify'),
      subject: `${tag} restore verification FAILED`,
      body: problems,
    });
  }
  if (verification.canonical.conflict > 0) {
    record.flag(
      'canonical_conflict',
      `CONFLICT ${verification.canonical.conflict} vs the canonical payload (${verification.canonical.conflictKeys.slice(0, 10).join(', ')}` +
        `${verification.canonical.conflict > 10 ? ', …' : ''}): intended if restoring an operator-tuned snapshot, otherwise the wrong id — pause and verify`,
    );
  }
  notices.send({
    kind: 'restore_done',
    severity: verification.ok && verification.canonical.conflict === 0 ? 'info' : 'warning',
    audience: 'incident_commander',
    subject: `${tag} restore done: history id ${execution.historyId}, ${counts}`,
    body:
      `Live version ${execution.liveVersion}. Verification: live row ${verification.liveRow.ok ? 'OK' : 'NOT OK'}, ` +
      `history row ${verification.historyRow.ok ? 'OK' : 'NOT OK'}, canonical ${counts}.\n` +
      `Now: a Console write with change_reason='break-glass-${input.incidentId}' within ${formatDuration(policy.reconciliationDeadline)}, ` +
      `and the post-mortem within ${formatDuration(policy.postMortemDeadline)}.`,
  });

  // 7 & 8. Reconciliation and post-mortem obligations, watched side by side.
  const reconciliationDueMs = executedAtMs + policy.reconciliationDeadline;
  const postMortemDueMs = executedAtMs + policy.postMortemDeadline;
  const reconciliation: ReconciliationRecord = {
    state: 'pending',
    dueAt: utcIso(reconciliationDueMs),
    checks: 0,
  };
  detail.reconciliation = reconciliation;
  detail.postMortem = { state: 'awaiting', dueAt: utcIso(postMortemDueMs), draft: '' };
  record.setDeadline('reconciliation', reconciliationDueMs);
  record.setDeadline('post_mortem', postMortemDueMs);
  refreshPostMortemDraft();
  record.enterStep(
    'awaiting_reconciliation',
    `waiting for a Console write with change_reason='break-glass-${input.incidentId}' by ${reconciliation.dueAt}; post-mortem due ${detail.postMortem.dueAt}`,
  );
  notices.send({
    kind: 'post_mortem_draft',
    severity: 'info',
    audience: 'incident_commander',
    subject: `${tag} post-mortem draft ready (due ${detail.postMortem.dueAt})`,
    body: detail.postMortem.draft,
  });
  await Promise.all([watchReconciliation(), watchPostMortem()]);

  const conforming = record.status.nonConformities.length === 0;
  return finish(
    conforming ? 'restored' : 'restored_non_conforming',
    `restored history id ${plan.target.id} as history row ${execution.historyId}` +
      (conforming
        ? '; all obligations met'
        : `; non-conforming: ${record.status.nonConformities.map((n) => n.code).join(', ')}`),
  );

  // -------------------------------------------------------------------------------------------

  async function checkReconciliation(): Promise<boolean> {
    reconciliation.checks += 1;
    let write;
    try {
      write = await findReconcilingWrite({
        incidentId: input.incidentId,
        afterHistoryId: execution.historyId,
      });
    } catch (error) {
      record.event(
        'reconciliation_check_failed',
        `could not check for the reconciling write: ${describe(error)}`,
      );
      return false;
    }
    reconciliation.lastCheckedAt = write.checkedAt;
    if (!write.found) return false;
    reconciliation.write = write;
    reconciliation.seenAt = utcIso(Date.now());
    return true;
  }

  async function watchReconciliation(): Promise<void> {
    // Inside the window: poll, or check at once when asked; one last check at the deadline.
    for (;;) {
      const atDeadline = Date.now() >= reconciliationDueMs;
      if (await checkReconciliation()) {
        const write = reconciliation.write!;
        const inTime = !atDeadline || Date.parse(write.changedAt) <= reconciliationDueMs;
        if (inTime) {
          reconciliation.state = 'found_in_time';
          record.resolveDeadline('reconciliation', 'met');
          record.event(
            'reconciled',
            `reconciling write id=${write.id} by ${write.changedBy} at ${write.changedAt}`,
          );
        } else {
          markReconciliationMissed();
          reconciliation.state = 'late';
          record.event(
            'reconciled_late',
            `late reconciling write id=${write.id} by ${write.changedBy} at ${write.changedAt}`,
          );
        }
        return afterReconciliation();
      }
      if (atDeadline) break;
      const wait = Math.max(Math.min(policy.reconciliationPollInterval, reconciliationDueMs - Date.now()), 1);
      await condition(() => reconciliationCheckRequested, wait, {
        summary: `reconciliation: next check (deadline ${reconciliation.dueAt})`,
      });
      reconciliationCheckRequested = false;
    }

    // Missed: escalate, then keep looking until the post-mortem window closes so a late write is recorded.
    markReconciliationMissed();
    afterReconciliation();
    while (Date.now() < postMortemDueMs) {
      const wait = Math.max(Math.min(policy.lateReconciliationPollInterval, postMortemDueMs - Date.now()), 1);
      await condition(() => reconciliationCheckRequested, wait, {
        summary: 'reconciliation: watching for a late write',
      });
      reconciliationCheckRequested = false;
      if (await checkReconciliation()) {
        const write = reconciliation.write!;
        reconciliation.state = 'late';
        record.event(
          'reconciled_late',
          `late reconciling write id=${write.id} by ${write.changedBy} at ${write.changedAt}`,
        );
        notices.send({
          kind: 'reconciliation_late',
          severity: 'warning',
          audience: 'incident_commander',
          page: page('reconciliation', 'resolve'),
          subject: `${tag} reconciling write arrived late (id ${write.id})`,
          body: `Due ${reconciliation.dueAt}; written ${write.changedAt} by ${write.changedBy}. The run stays non-conforming.`,
        });
        refreshPostMortemDraft();
        return;
      }
    }
  }

  function markReconciliationMissed(): void {
    reconciliation.state = 'missed';
    record.resolveDeadline('reconciliation', 'missed');
    const message =
      `no Console write with change_reason='break-glass-${input.incidentId}' appeared by ${reconciliation.dueAt} ` +
      '(seed 000 gate 2): non-conforme ADR-68 + ADR-82, raise at the next pr_review committee';
    record.nonConformity('reconciliation_missed', message);
    notices.send({
      kind: 'reconciliation_missed',
      severity: 'critical',
      audience: 'escalation',
      page: page('reconciliation'),
      subject: `${tag} ESCALATION: reconciling Console write missed`,
      body: message,
    });
  }

  function afterReconciliation(): void {
    refreshPostMortemDraft();
    postPostMortemDraft();
    if (detail.postMortem?.state === 'awaiting') {
      record.enterStep(
        'awaiting_post_mortem',
        `post-mortem due ${detail.postMortem.dueAt}; send "postMortemFiled" {"by","link"}`,
      );
    } else if (reconciliation.state === 'missed') {
      record.enterStep(
        'watching_late_reconciliation',
        `reconciliation missed; still watching for a late write until ${utcIso(postMortemDueMs)}`,
      );
    }
  }

  /** Posts the draft as a comment on the configured work package / issue (once, idempotent). */
  function postPostMortemDraft(): void {
    const target = snapshot.postMortemComment;
    const postMortem = detail.postMortem;
    if (!target || !postMortem || postMortem.comment) return;
    const deliveryKey = `${record.status.workflowId}/${record.status.runId}/post-mortem-draft`;
    const where =
      'workPackageId' in target ? `work package #${target.workPackageId}` : `issue #${target.issueNumber}`;
    const comment: PostMortemComment = { channel: target.channel, target: where, state: 'posting' };
    postMortem.comment = comment;
    const posting =
      'workPackageId' in target
        ? commentOnWorkPackage({
            channel: target.channel,
            workPackageId: target.workPackageId,
            markdown: postMortem.draft,
            deliveryKey,
          }).then(() => undefined)
        : commentOnGitHubIssue({
            channel: target.channel,
            issueNumber: target.issueNumber,
            body: postMortem.draft,
            deliveryKey,
          }).then((receipt) => {
            comment.url = receipt.url;
          });
    notices.track(
      posting.then(
        () => {
          comment.state = 'posted';
          record.event('post_mortem_draft_posted', `post-mortem draft posted on ${target.channel} ${where}`);
        },
        (error: unknown) => {
          comment.state = 'failed';
          comment.error = describe(error);
          record.event(
            'post_mortem_draft_failed',
            `post-mortem draft not posted on ${target.channel} ${where}: ${comment.error}`,
          );
          notices.send({
            kind: 'post_mortem_draft_failed',
            severity: 'warning',
            audience: 'incident_commander',
            subject: `${tag} could not post the post-mortem draft on ${where}`,
            body: `${comment.error}\nThe draft is in the run's status (detail.postMortem.draft); file it by hand.`,
          });
        },
      ),
    );
  }

  async function watchPostMortem(): Promise<void> {
    const postMortem = detail.postMortem!;
    const filed = await condition(
      () => postMortem.state === 'filed',
      Math.max(postMortemDueMs - Date.now(), 1),
      {
        summary: `post-mortem due ${postMortem.dueAt}`,
      },
    );
    if (filed) {
      record.resolveDeadline('post_mortem', 'met');
      return;
    }
    postMortem.state = 'missed';
    record.resolveDeadline('post_mortem', 'missed');
    const message = `post-mortem not marked filed by ${postMortem.dueAt} (seed 000 gate 3): non-conforme ADR-68 + ADR-82`;
    record.nonConformity('post_mortem_missed', message);
    notices.send({
      kind: 'post_mortem_missed',
      severity: 'critical',
      audience: 'escalation',
      page: page('post-mortem'),
      subject: `${tag} ESCALATION: post-mortem missed`,
      body: message,
    });
  }

  function onPostMortemFiled(raw: unknown): void {
    const parsed = postMortemFiledPayloadSchema.safeParse(raw);
    if (!parsed.success) {
      record.refused({
        signal: 'postMortemFiled',
        reason: 'invalid_payload',
        detail: describeIssues(parsed.error, 'postMortemFiled payload')
          .split('\n')
          .map((l) => l.trim())
          .join(' '),
      });
      return;
    }
    const by = `@${normalizeHandle(parsed.data.by)}`;
    const postMortem = detail.postMortem;
    if (!postMortem) {
      record.refused({
        signal: 'postMortemFiled',
        by,
        reason: 'gate_not_open',
        detail: 'nothing has been executed yet',
      });
      return;
    }
    if (postMortem.state !== 'awaiting') {
      record.refused({
        signal: 'postMortemFiled',
        by,
        reason: 'already_decided',
        detail: `post-mortem is already ${postMortem.state}`,
      });
      return;
    }
    postMortem.state = 'filed';
    postMortem.filedBy = by;
    postMortem.link = parsed.data.link;
    postMortem.filedAt = utcIso(Date.now());
    record.event('post_mortem_filed', `post-mortem filed: ${parsed.data.link}`, by);
    if (record.status.step === 'awaiting_post_mortem') {
      record.describe('post-mortem filed; finishing');
    }
  }

  function refreshPostMortemDraft(): void {
    if (!detail.postMortem || !detail.approval || detail.execution?.status !== 'restored') return;
    detail.postMortem.draft = renderPostMortem({
      incidentId: input.incidentId,
      workflowId: record.status.workflowId,
      runId: record.status.runId,
      rationale: input.rationale,
      targetHistoryId: input.targetHistoryId,
      approval: detail.approval,
      execution: detail.execution,
      ...(detail.verification ? { verification: detail.verification } : {}),
      ...(detail.reconciliation ? { reconciliation: detail.reconciliation } : {}),
      steps: record.stepDurations(),
      postMortemTarget: snapshot.postMortemTarget,
    });
  }

  function buildResult(outcome: BreakGlassRestoreOutcome, message: string): BreakGlassRestoreResult {
    refreshPostMortemDraft();
    const execution = detail.execution?.status === 'restored' ? detail.execution : undefined;
    return {
      runbook: BREAK_GLASS_RESTORE,
      outcome,
      conforming: record.status.nonConformities.length === 0,
      message,
      incidentId: input.incidentId,
      workflowId: record.status.workflowId,
      runId: record.status.runId,
      requestedBy,
      targetHistoryId: input.targetHistoryId,
      ...(detail.plan ? { plan: detail.plan } : {}),
      ...(detail.approval ? { approval: detail.approval } : {}),
      ...(detail.execution ? { execution: detail.execution } : {}),
      ...(detail.verification ? { verification: detail.verification } : {}),
      ...(detail.reconciliation ? { reconciliation: detail.reconciliation } : {}),
      ...(detail.postMortem ? { postMortem: detail.postMortem } : {}),
      idsCreated: {
        historyRowIds: execution ? [execution.historyId] : [],
        ledgerKeys: execution ? [execution.ledgerKey] : [],
      },
      steps: record.stepDurations(),
      deadlines: record.status.deadlines,
      refusedAttempts: record.status.refusedAttempts,
      nonConformities: record.status.nonConformities,
      flags: record.status.flags,
      notices: record.status.notices,
    };
  }

  function approvalRequestBody(
    planHash: string,
    summary: string,
    policySnapshot: RunbookPolicySnapshot<'breakGlassRestore'>,
    lineTemplate: string,
  ): string {
    const workflowId = record.status.workflowId;
    return [
      `Requested by ${requestedBy}: ${input.rationale}`,
      `Plan: ${summary}.`,
      `planHash: ${planHash}`,
      `Approvers: ${policySnapshot.runbook.approvers.join(', ')}${policySnapshot.runbook.soleOperator ? ' (sole operator)' : ''}; ` +
        `the request expires in ${formatDuration(policySnapshot.runbook.approvalTimeout)}.`,
      `Approve: signal "approve" to workflow ${workflowId} with {"approver":"@you","planHash":"${planHash}"}`,
      `  CLI: npm run cli -- approve --workflow-id ${workflowId} --approver @you --plan-hash ${planHash}`,
      `Reject: signal "reject" with {"approver":"@you","reason":"…"}`,
      `After approval the SQL runs no earlier than ${formatDuration(policySnapshot.runbook.pause)} later (pause-and-think); "abort" {"by","reason"} stops it.`,
      `Approval line that will be recorded: ${lineTemplate}`,
    ].join('\n');
  }
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const cause = (error as Error & { cause?: unknown }).cause;
    return cause instanceof Error ? `${error.message}: ${cause.message}` : error.message;
  }
  return String(error);
}
