import {
  ApplicationFailure,
  condition,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { GitHubIssue, RunbookActivities, WorkPackage } from '../../activities';
import { checkpointSchedule, DAY_MS, mergeDayStartMs, type CheckpointName } from '../../common/backstop';
import { formatDuration, utcIso } from '../../common/duration';
import { normalizeHandle, sameHandle } from '../../common/identity';
import { describeIssuesInline } from '../../common/validation';
import { commandOnce, notification, policyRead, probe } from '../activity-options';
import { parseWorkflowInput } from '../shared/input';
import { statusQuery } from '../shared/messages';
import { describeFailure, Notices } from '../shared/notices';
import { RunRecord } from '../shared/run-record';
import {
  BACKSTOP_PROGRAM,
  backstopInputSchema,
  decisionPayloadSchema,
  recordDecisionSignal,
  type BackstopDetail,
  type BackstopInput,
  type BackstopOutcome,
  type BackstopResult,
  type CheckpointEvidence,
  type DecisionRecord,
} from './definitions';

const { loadRunbookPolicy } = proxyActivities<RunbookActivities>(policyRead);
const trackers = proxyActivities<RunbookActivities>(notification);
const { probeUrl } = proxyActivities<RunbookActivities>(probe);
const { runRevertCommand } = proxyActivities<RunbookActivities>(commandOnce);

/** Seed 001: "the waiver is single-use", 30 days (T+90 → T+120). */
const WAIVER_MS = 30 * DAY_MS;

/**
 * The backstop of one merged story (seed 001 §6.bis): durable timers to T+30, T+60, T+90 and
 * T+120 (merge day 00:00Z + N × 24 h), each checking the Epic in OpenProject, the gate-failure
 * search on GitHub and the Console restore probe, and acting as the seed says. Silence is never an
 * outcome: the T+90 decision is escalated again every decision window until it comes.
 */
export async function backstopProgram(rawInput: BackstopInput): Promise<BackstopResult> {
  const input = parseWorkflowInput(backstopInputSchema, rawInput, 'backstopProgram input');
  const mergedAtMs = Date.parse(input.mergedAt);
  const dri = `@${normalizeHandle(input.dri)}`;
  const schedule = checkpointSchedule(mergedAtMs);
  const record = new RunRecord<BackstopDetail>(BACKSTOP_PROGRAM, input.storyId, {
    storyId: input.storyId,
    mergeSha: input.mergeSha,
    mergedAt: utcIso(mergedAtMs),
    mergeDay: utcIso(mergeDayStartMs(mergedAtMs)),
    dri,
    checkpoints: schedule.map((cp) => ({ name: cp.name, at: utcIso(cp.atMs), state: 'pending' })),
    evidence: [],
    decisions: [],
  });
  setHandler(statusQuery, () => record.status);
  const detail = record.status.detail;
  const notices = new Notices(record);
  const { workflowId } = workflowInfo();
  const tag = `[backstop ${input.storyId}]`;
  const search = input.github.search ?? input.storyId;
  record.setMemoSummary(
    `Backstop of ${input.storyId} (merge ${input.mergeSha.slice(0, 7)} on ${detail.mergeDay.slice(0, 10)}): T+90 ${detail.checkpoints[2]!.at}`,
  );

  // Decisions: only while one is asked for, only from the DRI or the policy's deciders.
  let deciders: string[] = [];
  const inbox: DecisionRecord[] = [];
  setHandler(recordDecisionSignal, (raw) => {
    const parsed = decisionPayloadSchema.safeParse(raw);
    if (!parsed.success)
      return void record.refused({
        signal: 'recordDecision',
        reason: 'invalid_payload',
        detail: describeIssuesInline(parsed.error, 'recordDecision payload'),
      });
    const by = `@${normalizeHandle(parsed.data.by)}`;
    const { decision, rationale } = parsed.data;
    if (!sameHandle(by, dri) && !deciders.some((who) => sameHandle(who, by)))
      return void record.refused({
        signal: 'recordDecision',
        by,
        reason: 'not_authorized',
        detail: `only the DRI ${dri}${deciders.length ? ` or ${deciders.join(', ')}` : ''} decides`,
      });
    const earlierWaiver = detail.decisions.find((d) => d.decision === 'waiver');
    if (decision === 'waiver' && earlierWaiver)
      return void record.refused({
        signal: 'recordDecision',
        by,
        reason: 'waiver_already_used',
        detail: `the waiver is single-use: granted by ${earlierWaiver.by} at ${earlierWaiver.at}`,
      });
    const wanted = detail.awaiting?.kind;
    const fits =
      wanted === 'self_review'
        ? decision === 'self_review'
        : wanted === 't90_decision' && decision !== 'self_review';
    if (!fits)
      return void record.refused({
        signal: 'recordDecision',
        by,
        reason: 'gate_not_open',
        detail: wanted
          ? `a ${wanted === 'self_review' ? '"self_review"' : 'waiver, revert or park'} decision is expected now`
          : 'no decision is asked for now',
      });
    const checkpoint: CheckpointName = wanted === 'self_review' ? 'T+60' : 'T+90';
    const entry: DecisionRecord = { by, decision, rationale, at: utcIso(Date.now()), checkpoint };
    detail.decisions.push(entry);
    inbox.push(entry);
    if (decision === 'self_review') delete detail.awaiting;
    record.event('decision', `${decision}: ${rationale}`, by);
  });

  const snapshot = await loadRunbookPolicy({ runbook: 'backstop' });
  const policy = snapshot.runbook;
  deciders = policy.deciders;
  notices.configure(snapshot.notifications);
  const op = policy.openProjectChannel;
  const gh = policy.gitHubChannel;

  /** Comments on the story's work package (and the epic's when asked), once per key. */
  async function comment(key: string, markdown: string, alsoEpic = false): Promise<void> {
    const targets = [input.openProject.storyWorkPackageId, ...(alsoEpic ? [input.openProject.epicId] : [])];
    for (const workPackageId of targets) {
      try {
        await trackers.commentOnWorkPackage({
          channel: op,
          workPackageId,
          markdown,
          deliveryKey: `${workflowId}/${key}/wp-${workPackageId}`,
        });
      } catch (error) {
        record.flag('comment_failed', `could not comment on wp#${workPackageId}: ${describeFailure(error)}`);
      }
    }
  }

  /** Writes the decisions received so far on the story's work package (the seed's "log decision in wp#…"). */
  async function recordDecisions(): Promise<void> {
    while (inbox.length) {
      const entry = inbox.shift()!;
      await comment(
        `decision-${detail.decisions.indexOf(entry)}`,
        `**${entry.checkpoint} decision (${input.storyId}): ${entry.decision}** by ${entry.by} at ${entry.at}\n\n${entry.rationale}`,
      );
      entry.recordedOn = input.openProject.storyWorkPackageId;
    }
  }

  /** Sleeps until `atMs` on a durable timer, writing down decisions as they come. */
  async function sleepUntil(atMs: number, what: string): Promise<void> {
    while (Date.now() < atMs) {
      await condition(() => inbox.length > 0, atMs - Date.now(), { summary: `${what} at ${utcIso(atMs)}` });
      await recordDecisions();
    }
  }

  /** Reads every piece of evidence; a tracker that cannot be read makes the checkpoint wait and read again. */
  async function gather(name: CheckpointName, dueMs: number): Promise<CheckpointEvidence> {
    for (;;) {
      const unavailable: string[] = [];
      const stamp = <T extends object>(value: T): T & { checkedAt: string } => ({
        ...value,
        checkedAt: utcIso(Date.now()),
      });
      const [epic, children, issues, restore] = await Promise.all([
        trackers
          .getWorkPackage({ channel: op, id: input.openProject.epicId })
          .then(stamp, (error: unknown) => {
            unavailable.push(`epic wp#${input.openProject.epicId}: ${describeFailure(error)}`);
            return undefined;
          }),
        trackers.listChildWorkPackages({ channel: op, parentId: input.openProject.epicId }).then(
          (list: WorkPackage[]) => list.map(stamp),
          (error: unknown) => {
            unavailable.push(`children of wp#${input.openProject.epicId}: ${describeFailure(error)}`);
            return undefined;
          },
        ),
        trackers
          .searchGitHubIssues({
            channel: gh,
            repository: input.github.repository,
            labels: [input.github.gateFailureLabel],
            text: search,
            state: 'all',
          })
          .then(
            (found: GitHubIssue[]) => found,
            (error: unknown) => {
              unavailable.push(`gate-failure search: ${describeFailure(error)}`);
              return undefined;
            },
          ),
        probeUrl({ url: input.consoleRestoreProbeUrl, timeoutMs: policy.probeTimeout }),
      ]);
      const closedChild = children?.some((child) => child.status === policy.shippedStatus) ?? false;
      const evidence: CheckpointEvidence = {
        checkpoint: name,
        dueAt: utcIso(dueMs),
        evaluatedAt: utcIso(Date.now()),
        ...(epic ? { epic } : {}),
        ...(children ? { children } : {}),
        ...(issues ? { gateFailureIssues: issues, gateFailureCheckedAt: utcIso(Date.now()) } : {}),
        probe: restore,
        // Shipped needs both: a Closed child and the restore live. An unreachable probe is "not live".
        shipped: closedChild && restore.up,
        verdict: '',
      };
      if (evidence.shipped || !unavailable.length) return evidence;
      evidence.unavailable = unavailable;
      evidence.verdict = 'evidence unavailable: read again later';
      detail.evidence.push(evidence);
      notices.send({
        kind: 'backstop_evidence_unavailable',
        severity: 'warning',
        audience: 'owner',
        recipients: [dri],
        subject: `${tag} ${name}: evidence unavailable, reading again in ${formatDuration(policy.evidenceRetryInterval)}`,
        body: unavailable.join('\n'),
      });
      await sleepUntil(Date.now() + policy.evidenceRetryInterval, `${name}: read the evidence again`);
    }
  }

  const finish = async (outcome: BackstopOutcome, message: string): Promise<BackstopResult> => {
    await recordDecisions();
    delete detail.next;
    for (const cp of detail.checkpoints) if (cp.state === 'pending') cp.state = 'not_needed';
    record.finish(outcome, message);
    await notices.settle();
    return {
      runbook: BACKSTOP_PROGRAM,
      outcome,
      message,
      storyId: input.storyId,
      workflowId,
      detail,
      steps: record.stepDurations(),
      refusedAttempts: record.status.refusedAttempts,
      flags: record.status.flags,
      notices: record.status.notices,
    };
  };

  async function shipped(evidence: CheckpointEvidence): Promise<BackstopResult> {
    const message = `Epic wp#${input.openProject.epicId} shipped at ${evidence.checkpoint} (a ${policy.shippedStatus} child and the Console restore live at ${evidence.probe?.checkedAt})`;
    await comment(
      `shipped-${evidence.checkpoint}`,
      `**Backstop ${input.storyId}: ${message}.** Program complete.`,
    );
    notices.send({
      kind: 'backstop_shipped',
      severity: 'info',
      audience: 'owner',
      recipients: [dri],
      subject: `${tag} Epic shipped at ${evidence.checkpoint}: backstop complete`,
      body: message,
    });
    return finish('shipped', message);
  }

  /** Revert (decided at T+90, or mandatory at T+120): page, revert issue, the policy's command. */
  async function revert(why: string, mandatory: boolean): Promise<BackstopResult> {
    record.enterStep('revert', why);
    notices.send({
      kind: mandatory ? 'backstop_mandatory_revert' : 'backstop_revert',
      severity: 'critical',
      audience: 'owner',
      recipients: [dri],
      page: { action: 'trigger', dedupKey: `${workflowId}/revert` },
      subject: `${tag} ${mandatory ? 'MANDATORY REVERT' : 'revert'} of ${input.mergeSha.slice(0, 7)}`,
      body: why,
    });
    try {
      const issue = await trackers.createGitHubIssue({
        channel: gh,
        repository: input.github.repository,
        title: `[revert] ${input.storyId}: revert ${input.mergeSha.slice(0, 7)}${mandatory ? ' (mandatory at T+120)' : ''}`,
        body: `${why}\n\nMerge: ${input.mergeSha} (${detail.mergedAt}). DRI: ${dri}.`,
        labels: ['revert', input.github.gateFailureLabel],
        deliveryKey: `${workflowId}/revert-issue`,
      });
      detail.revertIssue = { number: issue.number, url: issue.url };
    } catch (error) {
      record.flag('revert_issue_failed', `could not open the revert issue: ${describeFailure(error)}`);
    }
    if (policy.revertCommand) {
      try {
        const run = await runRevertCommand({
          story: input.storyId,
          sha: input.mergeSha,
          deliveryKey: `${workflowId}/revert-command`,
        });
        detail.revertCommand = {
          ok: run.ok,
          exitCode: run.exitCode,
          detail: (run.ok ? run.stdoutTail : run.stderrTail) || `exit ${run.exitCode}`,
        };
        if (!run.ok)
          record.flag('revert_command_failed', `the revert command failed: ${detail.revertCommand.detail}`);
      } catch (error) {
        // One attempt only: a run cut short (worker lost) is reported, never repeated blindly.
        detail.revertCommand = { ok: false, exitCode: null, detail: describeFailure(error) };
        record.flag(
          'revert_command_unknown',
          `the revert command did not report back: ${describeFailure(error)}; check by hand`,
        );
      }
    }
    await comment(
      'revert',
      `**Backstop ${input.storyId}: ${mandatory ? 'mandatory revert (T+120)' : 'revert'}.** ${why}`,
      true,
    );
    return finish(
      mandatory ? 'reverted_mandatory' : 'reverted',
      `${why}; revert issue ${detail.revertIssue ? `#${detail.revertIssue.number}` : '(not opened)'}${detail.revertCommand ? `; revert command ${detail.revertCommand.ok ? 'ran' : 'FAILED'}` : ''}`,
    );
  }

  for (const checkpoint of schedule) {
    const state = detail.checkpoints.find((cp) => cp.name === checkpoint.name)!;
    if (checkpoint.name === 'T+120' && !detail.waiver) break; // T+120 only caps a waiver
    detail.next = { checkpoint: checkpoint.name, at: utcIso(checkpoint.atMs) };
    record.enterStep(
      `waiting_${checkpoint.name}`,
      `next checkpoint ${checkpoint.name} at ${utcIso(checkpoint.atMs)}`,
    );
    await sleepUntil(checkpoint.atMs, checkpoint.name);

    record.enterStep(`check_${checkpoint.name}`, `${checkpoint.name}: reading the evidence`);
    const evidence = await gather(checkpoint.name, checkpoint.atMs);
    detail.evidence.push(evidence);
    state.state = 'evaluated';
    if (evidence.shipped) {
      evidence.verdict = state.verdict = 'shipped';
      return shipped(evidence);
    }
    const children = evidence.children ?? [];
    const issues = evidence.gateFailureIssues ?? [];
    if (checkpoint.days < 90 && issues.length) {
      // Seed invariant: the gate-failure search is empty before T+90.
      record.flag(
        'gate_failure_before_t90',
        `${checkpoint.name}: the gate-failure search is not empty before T+90: ${issues.map((i) => `#${i.number}`).join(', ')}`,
      );
      notices.send({
        kind: 'backstop_anomaly',
        severity: 'warning',
        audience: 'owner',
        recipients: [dri],
        subject: `${tag} anomaly at ${checkpoint.name}: gate-failure issues exist before T+90`,
        body: issues.map((i) => `#${i.number} ${i.title} ${i.url}`).join('\n'),
      });
    }

    if (checkpoint.name === 'T+30') {
      const epicNew = evidence.epic?.status === policy.newStatus;
      if (epicNew || children.length === 0) {
        evidence.verdict =
          state.verdict = `action: epic ${evidence.epic?.status ?? '?'}, ${children.length} children`;
        const ask = `T+30 (${state.at}): Epic wp#${input.openProject.epicId} is ${evidence.epic?.status ?? 'unknown'} with ${children.length} children. Dedicate the next sprint slot to opening the epic's children and plan_review the first deliverable (Console UI restore-from-history); log the decision here.`;
        notices.send({
          kind: 'backstop_t30',
          severity: 'warning',
          audience: 'owner',
          recipients: [dri],
          subject: `${tag} T+30: open the Epic's children (next sprint slot)`,
          body: ask,
        });
        await comment('t30', `**Backstop ${input.storyId} — decision request.** ${ask}`, true);
      } else
        evidence.verdict =
          state.verdict = `on track: epic ${evidence.epic?.status}, ${children.length} children`;
      continue;
    }

    if (checkpoint.name === 'T+60') {
      const moving = children.filter((child) => policy.pastInProgress.includes(child.status));
      if (!moving.length) {
        evidence.verdict = state.verdict = 'yellow flag: no child past In progress';
        detail.awaiting = { kind: 'self_review', since: utcIso(Date.now()), escalations: 0 };
        const ask = `T+60 (${state.at}): yellow flag, 30-day risk runway left. No child of Epic wp#${input.openProject.epicId} is past In progress (${children.map((c) => `wp#${c.id} ${c.status}`).join(', ') || 'no children'}). Schedule the self-review: is break-glass-only rollback still acceptable? Record the outcome: signal "recordDecision" {"by","decision":"self_review","rationale"}.`;
        notices.send({
          kind: 'backstop_t60_yellow',
          severity: 'warning',
          audience: 'owner',
          recipients: [dri],
          subject: `${tag} T+60 yellow flag: self-review due`,
          body: ask,
        });
        await comment('t60', `**Backstop ${input.storyId} — yellow flag.** ${ask}`);
      } else
        evidence.verdict =
          state.verdict = `on track: ${moving.map((c) => `wp#${c.id} ${c.status}`).join(', ')}`;
      continue;
    }

    if (checkpoint.name === 'T+90') {
      evidence.verdict = state.verdict = 'not shipped: hard escalation';
      if (detail.awaiting?.kind === 'self_review') {
        record.flag('self_review_missing', 'the T+60 self-review outcome was never recorded');
      }
      try {
        const issue = await trackers.createGitHubIssue({
          channel: gh,
          repository: input.github.repository,
          title: `[gate-failure] ${input.storyId}: Epic wp#${input.openProject.epicId} not shipped at T+90`,
          body: `T+90 (${state.at}) reached without the Epic shipped.\n\nEvidence (UTC): ${JSON.stringify(
            {
              epic: evidence.epic?.status,
              children: children.map((c) => [c.id, c.status]),
              probe: evidence.probe,
            },
            null,
            1,
          )}\n\nDecision required from ${dri}: waiver (30 days, single-use), revert, or park. Silent extension is not an outcome.`,
          labels: [input.github.gateFailureLabel],
          deliveryKey: `${workflowId}/gate-failure-issue`,
        });
        detail.gateFailureIssue = { number: issue.number, url: issue.url };
      } catch (error) {
        record.flag(
          'gate_failure_issue_failed',
          `could not open the [gate-failure] issue: ${describeFailure(error)}`,
        );
      }
      detail.awaiting = { kind: 't90_decision', since: utcIso(Date.now()), escalations: 0 };
      record.enterStep('awaiting_decision', `T+90 not shipped: ${dri} must decide waiver, revert or park`);
      let decision: DecisionRecord | undefined;
      for (;;) {
        const pageKey = `${workflowId}/t90-escalation-${detail.awaiting.escalations}`;
        notices.send({
          kind: detail.awaiting.escalations === 0 ? 'backstop_t90_escalation' : 'backstop_t90_reescalation',
          severity: 'critical',
          audience: 'owner',
          recipients: [dri, ...deciders],
          page: { action: 'trigger', dedupKey: pageKey },
          subject: `${tag} T+90 gate failure${detail.awaiting.escalations ? ` — still no decision (escalation ${detail.awaiting.escalations + 1})` : ''}: waiver, revert or park`,
          body: `Epic wp#${input.openProject.epicId} not shipped at ${state.at}. Issue: ${detail.gateFailureIssue?.url ?? '(not opened)'}.\nSignal "recordDecision" {"by":"${dri}","decision":"waiver|revert|park","rationale":"..."}`,
        });
        const nextAt = Date.now() + policy.decisionWindow;
        detail.awaiting.nextEscalationAt = utcIso(nextAt);
        await condition(() => detail.decisions.some((d) => d.checkpoint === 'T+90'), policy.decisionWindow, {
          summary: `T+90 decision or re-escalation at ${utcIso(nextAt)}`,
        });
        decision = detail.decisions.find((d) => d.checkpoint === 'T+90');
        if (decision) break;
        detail.awaiting.escalations += 1;
        record.event(
          'escalated',
          `no T+90 decision after ${formatDuration(policy.decisionWindow)}: escalation ${detail.awaiting.escalations + 1}`,
        );
      }
      delete detail.awaiting;
      await recordDecisions();
      if (decision.decision === 'revert')
        return revert(`decided by ${decision.by} at ${decision.at}: ${decision.rationale}`, false);
      if (decision.decision === 'park') {
        await comment(
          'park',
          `**Backstop ${input.storyId}: parked** by ${decision.by} at ${decision.at}: new harness factor sweeps parked until Epic wp#${input.openProject.epicId} ships.`,
        );
        return finish('parked', `parked by ${decision.by}: ${decision.rationale}`);
      }
      const untilMs = Math.max(Date.parse(decision.at) + WAIVER_MS, schedule[3]!.atMs);
      detail.waiver = { by: decision.by, at: decision.at, until: utcIso(untilMs) };
      await comment(
        'waiver',
        `**Backstop ${input.storyId}: 30-day waiver** (single-use) granted by ${decision.by} at ${decision.at}, risk accepted: ${decision.rationale}. T+120 (${detail.checkpoints[3]!.at}) is the cap: not shipped by then means mandatory revert.`,
      );
      continue;
    }

    // T+120 on a waiver, still not shipped.
    evidence.verdict = state.verdict = 'not shipped on a waiver: mandatory revert';
    return revert(
      `T+120 (${state.at}): still not shipped after the waiver granted by ${detail.waiver?.by}; the waiver is single-use`,
      true,
    );
  }
  // Every path above returns: T+120 is only reached on a waiver.
  throw ApplicationFailure.nonRetryable('the backstop program ended without an outcome', 'InternalError');
}
