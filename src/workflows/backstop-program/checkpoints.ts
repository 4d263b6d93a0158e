import { condition, proxyActivities } from '@temporalio/workflow';
import type { RunbookActivities } from '../../activities';
import { DAY_MS } from '../../common/backstop';
import { formatDuration, utcIso } from '../../common/duration';
import { notification } from '../activity-options';
import { describeFailure } from '../shared/notices';
import { isPatched, PATCHES } from '../shared/patches';
import type { BackstopResult, CheckpointEvidence, CheckpointState, DecisionRecord } from './definitions';
import { revert } from './outcomes';
import type { BackstopRun } from './run';

const trackers = proxyActivities<RunbookActivities>(notification);

/** Seed 001: "the waiver is single-use", 30 days (T+90 → T+120). */
const WAIVER_MS = 30 * DAY_MS;

/** What each checkpoint does when the Epic has not shipped (seed 001 §6.bis). */

/** T+30: Epic still New or childless → notice to the DRI and a decision request on the trackers. */
export async function atT30(
  run: BackstopRun,
  evidence: CheckpointEvidence,
  state: CheckpointState,
): Promise<void> {
  const { input, notices, dri, tag, policy } = run;
  const children = evidence.children ?? [];
  const epicNew = evidence.epic?.status === policy.newStatus;
  if (epicNew || children.length === 0) {
    evidence.verdict =
      state.verdict = `action: epic ${evidence.epic?.status ?? '?'}, ${children.length} children`;
    const ask = `T+30 (${state.at}): Epic wp#${run.program.openProject.epicId} is ${evidence.epic?.status ?? 'unknown'} with ${children.length} children. Dedicate the next sprint slot to opening the epic's children and plan_review the first deliverable (Console UI restore-from-history); log the decision here.`;
    notices.send({
      kind: 'backstop_t30',
      severity: 'warning',
      audience: 'owner',
      recipients: [dri],
      subject: `${tag} T+30: open the Epic's children (next sprint slot)`,
      body: ask,
    });
    await run.comment('t30', `**Backstop ${input.storyId} — decision request.** ${ask}`, true);
  } else
    evidence.verdict = state.verdict = `on track: epic ${evidence.epic?.status}, ${children.length} children`;
}

/** T+60: no child past In progress → yellow flag and a self-review request. */
export async function atT60(
  run: BackstopRun,
  evidence: CheckpointEvidence,
  state: CheckpointState,
): Promise<void> {
  const { input, detail, notices, dri, tag, policy } = run;
  const children = evidence.children ?? [];
  const moving = children.filter((child) => policy.pastInProgress.includes(child.status));
  if (!moving.length) {
    evidence.verdict = state.verdict = 'yellow flag: no child past In progress';
    detail.awaiting = { kind: 'self_review', since: utcIso(Date.now()), escalations: 0 };
    const ask = `T+60 (${state.at}): yellow flag, 30-day risk runway left. No child of Epic wp#${run.program.openProject.epicId} is past In progress (${children.map((c) => `wp#${c.id} ${c.status}`).join(', ') || 'no children'}). Schedule the self-review: is break-glass-only rollback still acceptable? Record the outcome: signal "recordDecision" {"by","decision":"self_review","rationale"}.`;
    notices.send({
      kind: 'backstop_t60_yellow',
      severity: 'warning',
      audience: 'owner',
      recipients: [dri],
      subject: `${tag} T+60 yellow flag: self-review due`,
      body: ask,
    });
    await run.comment('t60', `**Backstop ${input.storyId} — yellow flag.** ${ask}`);
  } else
    evidence.verdict = state.verdict = `on track: ${moving.map((c) => `wp#${c.id} ${c.status}`).join(', ')}`;
}

/** The [gate-failure] issue on GitHub, once (the delivery key makes a retry find it). */
async function openGateFailureIssue(
  run: BackstopRun,
  evidence: CheckpointEvidence,
  state: CheckpointState,
): Promise<void> {
  const { input, record, detail, dri, policy, workflowId } = run;
  const children = evidence.children ?? [];
  const open = () =>
    trackers.createGitHubIssue({
      channel: policy.gitHubChannel,
      repository: run.program.github.repository,
      title: `[gate-failure] ${input.storyId}: Epic wp#${run.program.openProject.epicId} not shipped at T+90`,
      body: `T+90 (${state.at}) reached without the Epic shipped.\n\nEvidence (UTC): ${JSON.stringify(
        {
          epic: evidence.epic?.status,
          children: children.map((c) => [c.id, c.status]),
          probe: evidence.probe,
        },
        null,
        1,
      )}\n\nDecision required from ${dri}: waiver (30 days, single-use), revert, or park. Silent extension is not an outcome.`,
      labels: [run.program.github.gateFailureLabel],
      deliveryKey: `${workflowId}/gate-failure-issue`,
    });
  if (isPatched(PATCHES.backstopFailSafe)) {
    const issue = await run.guarded(
      {
        name: 'gate_failure_issue',
        what: 'open the [gate-failure] issue on GitHub',
        skip: 'go on to the T+90 decision without the issue (open it by hand)',
      },
      open,
    );
    if (issue) detail.gateFailureIssue = { number: issue.number, url: issue.url };
    return;
  }
  try {
    const issue = await open();
    detail.gateFailureIssue = { number: issue.number, url: issue.url };
  } catch (error) {
    record.flag(
      'gate_failure_issue_failed',
      `could not open the [gate-failure] issue: ${describeFailure(error)}`,
    );
  }
}

/** Pages the DRI and waits for waiver / revert / park, paging again every decision window. */
async function awaitT90Decision(run: BackstopRun, state: CheckpointState): Promise<DecisionRecord> {
  const { record, detail, notices, dri, tag, policy, workflowId } = run;
  const awaiting = (detail.awaiting = { kind: 't90_decision', since: utcIso(Date.now()), escalations: 0 });
  record.enterStep('awaiting_decision', `T+90 not shipped: ${dri} must decide waiver, revert or park`);
  for (;;) {
    notices.send({
      kind: awaiting.escalations === 0 ? 'backstop_t90_escalation' : 'backstop_t90_reescalation',
      severity: 'critical',
      audience: 'owner',
      recipients: [dri, ...run.deciders],
      page: { action: 'trigger', dedupKey: `${workflowId}/t90-escalation-${awaiting.escalations}` },
      subject: `${tag} T+90 gate failure${awaiting.escalations ? ` — still no decision (escalation ${awaiting.escalations + 1})` : ''}: waiver, revert or park`,
      body: `Epic wp#${run.program.openProject.epicId} not shipped at ${state.at}. Issue: ${detail.gateFailureIssue?.url ?? '(not opened)'}.\nSignal "recordDecision" {"by":"${dri}","decision":"waiver|revert|park","rationale":"..."}`,
    });
    const nextAt = Date.now() + policy.decisionWindow;
    detail.awaiting.nextEscalationAt = utcIso(nextAt);
    await condition(() => detail.decisions.some((d) => d.checkpoint === 'T+90'), policy.decisionWindow, {
      summary: `T+90 decision or re-escalation at ${utcIso(nextAt)}`,
    });
    const decision = detail.decisions.find((d) => d.checkpoint === 'T+90');
    if (decision) {
      delete detail.awaiting;
      // The pages asked for this decision; it came: they are resolved (else they stay open in PagerDuty).
      if (isPatched(PATCHES.backstopT90PagesResolved))
        for (let escalation = 0; escalation <= awaiting.escalations; escalation += 1)
          notices.send({
            kind: escalation === 0 ? 'backstop_t90_escalation' : 'backstop_t90_reescalation',
            severity: 'info',
            audience: 'owner',
            recipients: [dri],
            page: { action: 'resolve', dedupKey: `${workflowId}/t90-escalation-${escalation}` },
            subject: `${tag} T+90 decided by ${decision.by}: ${decision.decision}`,
            body: decision.rationale,
          });
      return decision;
    }
    awaiting.escalations += 1;
    record.event(
      'escalated',
      `no T+90 decision after ${formatDuration(policy.decisionWindow)}: escalation ${awaiting.escalations + 1}`,
    );
  }
}

/**
 * T+90 not shipped: the [gate-failure] issue (once), the DRI paged, and a decision demanded —
 * re-escalated every decision window until it comes (silence is not an outcome). A waiver returns
 * undefined (the program sleeps to T+120); revert and park end the program.
 */
export async function atT90(
  run: BackstopRun,
  evidence: CheckpointEvidence,
  state: CheckpointState,
): Promise<BackstopResult | undefined> {
  const { input, record, detail } = run;
  evidence.verdict = state.verdict = 'not shipped: hard escalation';
  if (detail.awaiting?.kind === 'self_review') {
    // Asked late (catch-up), the self-review gets its normal window from when it was asked.
    const windowMs = run.schedule[2]!.atMs - run.schedule[1]!.atMs;
    const askedMs = Date.parse(detail.awaiting.since);
    if (detail.checkpoints[1]!.evaluatedLateAt && Date.now() - askedMs < windowMs)
      record.event(
        'catch_up',
        `the T+60 self-review, asked late at ${detail.awaiting.since}, had not had its ${formatDuration(windowMs)} when T+90 came: not flagged missing`,
      );
    else record.flag('self_review_missing', 'the T+60 self-review outcome was never recorded');
  }
  await openGateFailureIssue(run, evidence, state);
  const decision = await awaitT90Decision(run, state);
  await run.recordDecisions();
  if (decision.decision === 'revert')
    return revert(run, `decided by ${decision.by} at ${decision.at}: ${decision.rationale}`, false);
  if (decision.decision === 'park') {
    await run.comment(
      'park',
      `**Backstop ${input.storyId}: parked** by ${decision.by} at ${decision.at}: new harness factor sweeps parked until Epic wp#${run.program.openProject.epicId} ships.`,
    );
    return run.finish('parked', `parked by ${decision.by}: ${decision.rationale}`);
  }
  const capMs = run.schedule[3]!.atMs;
  // Seed 001: 30 days, never past T+120 (before the patch the later of the two was recorded).
  const untilMs = isPatched(PATCHES.backstopWaiverCap)
    ? Math.min(Date.parse(decision.at) + WAIVER_MS, capMs)
    : Math.max(Date.parse(decision.at) + WAIVER_MS, capMs);
  detail.waiver = { by: decision.by, at: decision.at, until: utcIso(untilMs) };
  await run.comment(
    'waiver',
    `**Backstop ${input.storyId}: waiver until ${utcIso(untilMs)}** (single-use, at most 30 days) granted by ${decision.by} at ${decision.at}, risk accepted: ${decision.rationale}. T+120 (${detail.checkpoints[3]!.at}) is the cap: not shipped by then means mandatory revert.`,
  );
  return undefined;
}
