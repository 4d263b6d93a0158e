import { allHandlersFinished, condition, proxyActivities } from '@temporalio/workflow';
import type { RunbookActivities } from '../../activities';
import { formatDuration, utcIso } from '../../common/duration';
import { businessDaysDueMs, isMajor } from '../../common/incident';
import { policyRead } from '../activity-options';
import { announcingCancellation } from '../shared/cancellation';
import { overBudget } from '../shared/history-budget';
import { parseWorkflowInput, refuseCarryOnFreshStart, servedSection } from '../shared/input';
import { isPatched, PATCHES } from '../shared/patches';
import { runClock } from './clock';
import {
  INCIDENT,
  breachNotifiedMessage,
  declareBreachMessage,
  fileReviewMessage,
  incidentSchemas,
  postUpdateMessage,
  resolveMessage,
  startRunbookMessage,
  type IncidentInput,
  type IncidentOutcome,
  type IncidentResult,
} from './definitions';
import { SideEffects } from './effects';
import { followCarried } from './runbooks';
import { atHandle } from '../../common/identity';
import { IncidentRun, WORKFLOW_ACTOR } from './run';
import { planOnly } from './dry-run';

const { loadRunbookPolicy } = proxyActivities<RunbookActivities>(policyRead);

/**
 * Seed 004 (incident & rollback runbook): one incident, declared from the Web UI or the CLI
 * (workflow id `incident-<id>`). Declaration → the notice and the pages of the paging matrix →
 * for a P0/P1 the first-10-minutes checklist, the change freeze and the update cadence (P0: an
 * incident commander acknowledges within 15 min) → updates, severity changes, roles, a data breach's
 * 72-hour clock → resolve (freeze lifted) → the post-incident review within 3 business days.
 * The run ends once the review is filed and any breach notification is recorded.
 */
export async function incident(raw: IncidentInput): Promise<IncidentResult> {
  const input = parseWorkflowInput(incidentSchemas().input, raw, 'incident input');
  refuseCarryOnFreshStart(
    'incident input',
    input.continued,
    'the incident itself when it continues as new (a run declared with it would skip its declaration)',
  );
  const run = new IncidentRun(input);
  return announcingCancellation(run, () => respond(run));
}

/** The incident from its declaration to its review (and a breach's notification). */
async function respond(run: IncidentRun): Promise<IncidentResult> {
  const { input } = run;
  const effects = new SideEffects(run);
  installLifecycle(run, effects);
  installBreach(run);
  run.on(startRunbookMessage, (payload, by) => {
    if (run.detail.resolution)
      return run.refuse('startRunbook', 'too_late', `resolved at ${run.detail.resolution.at}`, by);
    effects.startRunbook(payload.runbook, payload.input, by);
    return null;
  });

  run.record.enterStep('load_policy', 'reading the worker policy');
  const snapshot = await loadRunbookPolicy({ runbook: 'incident' });
  run.configure(snapshot, servedSection('incident', snapshot));
  if (input.dryRun) return endWith(run, 'dry_run', planOnly(run, pagedAtDeclaration(run)));
  if (input.continued) {
    resume(run);
    followCarried(run.detail);
  } else {
    declare(run, effects);
    // Messages held while the roster was unread (incident-roster-before-policy-v1), in order.
    run.releaseHeld();
  }

  const finished = (): boolean => {
    const { resolution, review, breach } = run.detail;
    return !!resolution && !!review?.filedAt && (!breach || !!breach.notifiedAt) && effects.idle;
  };
  // A long history (a flood of updates, months of pages) hands the incident to a new run while
  // nothing is in flight; asked only then, so a run that never gets there records nothing new.
  // A side effect waiting for a human lets its wait go for it (since 0.28.0): the wait, and the
  // effects queued behind it, go to the new run.
  effects.handOverWanted = () => !!overBudget();
  effects.carryingAllowed = () => isPatched(PATCHES.incidentCarriesHumanWait);
  const handOver = (): boolean =>
    (effects.idle || effects.isParked) && !!overBudget() && isPatched(PATCHES.incidentContinuesAsNew);
  for (;;) {
    const stop = (): boolean => finished() || handOver();
    await Promise.all([runClock(run, stop), effects.drain(stop)]);
    if (finished()) break;
    // Messages from now on are held for the next run, so the notices in flight can settle.
    run.holding = true;
    await run.notices.settle();
    await condition(allHandlersFinished);
    if (effects.idle || effects.isParked) return run.handOver(effects.toCarry());
    // A message handled as the clock stopped queued an effect: it runs here, then the held ones.
    run.releaseHeld();
  }
  await run.notices.settle();

  // Missed updates or acknowledgements are non-conformities in the result; the outcome says
  // whether the review, the last obligation, came in time.
  const outcome: IncidentOutcome =
    (run.detail.review?.escalations ?? 0) === 0 ? 'resolved_and_reviewed' : 'resolved_review_late';
  return endWith(
    run,
    outcome,
    `resolved by ${run.detail.resolution!.by}; review ${run.detail.review!.documentUrl}`,
  );
}

/** A continued run: the incident as its last run left it, nothing declared again. */
function resume(run: IncidentRun): void {
  const { detail } = run;
  const runs = detail.continuedAsNew?.runs ?? 2;
  run.record.event('continued', `run ${runs} of the incident: its state carried over from run ${runs - 1}`);
  // The review's wait began at the resolution, whichever run it is in (the oldest-wait gauge, the
  // gate-wait histogram).
  if (detail.resolution)
    run.record.takeUpStep(
      'awaiting_review',
      `resolved by ${detail.resolution.by}; post-incident review due ${detail.review?.dueAt}`,
      detail.resolution.at,
    );
  else run.record.enterStep('responding', describeResponse(run));
  run.releaseHeld();
}

function endWith(run: IncidentRun, outcome: IncidentOutcome, message: string): IncidentResult {
  run.record.finish(outcome, message);
  return {
    runbook: INCIDENT,
    outcome,
    message,
    incidentId: run.input.incidentId,
    workflowId: run.record.status.workflowId,
    detail: run.detail,
    nonConformities: run.record.status.nonConformities,
    ...run.record.resultTrail(),
  };
}

/** Seed 004 §8: who the declaration pages, by the conditions declared. */
function pagedAtDeclaration(run: IncidentRun): string[] {
  const paging = run.policy!.paging;
  return [...new Set(run.input.conditions.flatMap((cause) => (paging[cause] ?? []).map(atHandle)))];
}

/** Seed 004 §1.1 and §8: the declaration, its pages, and for a P0/P1 the freeze and the status page. */
function declare(run: IncidentRun, effects: SideEffects): void {
  const { detail, input } = run;
  run.record.enterStep('declare', `${input.severity}: ${input.symptoms}`);
  run.firstStepDone('declare', detail.declaredBy, `${input.severity}, IC ${detail.commander.handle}`);
  run.send({
    kind: 'incident_declared',
    severity: isMajor(input.severity) ? 'critical' : 'warning',
    audience: 'incident_commander',
    recipients: [detail.commander.handle],
    subject: `${input.severity} declared: ${input.symptoms.slice(0, 120)}`,
    body: `Symptoms: ${input.symptoms}\nImpact: ${input.impact}\nIncident commander: ${detail.commander.handle}\nDeclared by: ${detail.declaredBy}`,
  });
  const paged = pagedAtDeclaration(run);
  if (paged.length > 0)
    run.send({
      kind: 'incident_page',
      severity: 'critical',
      audience: 'escalation',
      recipients: paged,
      page: { action: 'trigger', dedupKey: `${run.record.status.workflowId}/declared` },
      subject: `${input.severity} ${input.conditions.join(', ')}: ${input.symptoms.slice(0, 100)}`,
      body: `Seed 004 §8 (who to page): ${paged.join(', ')}. Incident commander: ${detail.commander.handle}.`,
    });
  if (input.conditions.includes('data_breach'))
    openBreach(run, detail.declaredBy, 'declared with the incident', run.declaredMs);
  run.armSeverity(input.severity, undefined);
  if (isMajor(input.severity)) effects.freeze(detail.declaredBy);
  if (input.customersAffected) effects.statusPage('create', 'investigating', input.impact);
  else run.firstStepDone('communicate', WORKFLOW_ACTOR, 'no customer affected: no status page update needed');
  if (isMajor(input.severity)) effects.preserve();
  run.record.enterStep('responding', describeResponse(run));
}

function describeResponse(run: IncidentRun): string {
  const { commander, severity, updates } = run.detail;
  const ack =
    commander.ackDueAt && !commander.acknowledgedAt ? `; IC must acknowledge by ${commander.ackDueAt}` : '';
  const next = updates.nextDueAt ? `; next update due ${updates.nextDueAt}` : '';
  return `${severity}, IC ${commander.handle}${ack}${next}`;
}

function openBreach(run: IncidentRun, by: string, scope: string, awareMs: number): void {
  const policy = run.policy!;
  const dueMs = awareMs + policy.breachNotifyWithin;
  run.detail.breach = { scope, awareSince: utcIso(awareMs), dueAt: utcIso(dueMs), escalations: [] };
  run.record.setDeadline('breach_notification', dueMs);
  run.record.event(
    'breach_declared',
    `data breach (${scope}): regulator notification due ${utcIso(dueMs)}`,
    by,
  );
  run.send({
    kind: 'incident_breach_declared',
    severity: 'critical',
    audience: 'escalation',
    recipients: run.breachRecipients(),
    subject: `data breach: notify the regulator by ${utcIso(dueMs)}`,
    body: `Seed 004 §3: contain, assess scope, notify SDAIA within ${formatDuration(policy.breachNotifyWithin)}, notify data subjects if the risk assessment requires it, document.\nScope: ${scope}`,
  });
  run.changed();
}

/** Updates, the data breach, resolution and the review: the incident's life after its declaration. */
function installLifecycle(run: IncidentRun, effects: SideEffects): void {
  const closed = (name: string, by: string) =>
    run.detail.resolution
      ? run.refuse(name, 'too_late', `resolved at ${run.detail.resolution.at}`, by)
      : null;
  run.on(postUpdateMessage, (payload, by) => {
    const refused = closed('postUpdate', by);
    if (refused) return refused;
    const { updates, severity } = run.detail;
    const now = Date.now();
    updates.count += 1;
    updates.lastAt = utcIso(now);
    updates.lastBy = by;
    if (updates.nextDueAt && isMajor(severity)) {
      run.record.resolveDeadline('next_update', 'met');
      updates.nextDueAt = utcIso(now + run.policy!.updateEvery);
      run.record.setDeadline('next_update', now + run.policy!.updateEvery);
    }
    run.record.event('update', payload.text, by);
    run.resolvePages(['update-missed'], `update posted by ${by}`);
    run.send({
      kind: 'incident_update',
      severity: 'info',
      audience: 'incident_commander',
      subject: `update from ${by}`,
      body: payload.text,
    });
    if (run.detail.customersAffected) effects.statusPage('update', 'identified', payload.text);
    run.record.describe(describeResponse(run));
    run.changed();
    return null;
  });
  run.on(
    resolveMessage,
    (payload, by) => closed('resolve', by) ?? resolve(run, effects, by, payload.summary),
  );
  run.on(fileReviewMessage, (payload, by) => {
    const { review } = run.detail;
    if (!review)
      return run.refuse('fileReview', 'gate_not_open', 'the review is due once the incident is resolved', by);
    if (review.filedAt)
      return run.refuse(
        'fileReview',
        'already_decided',
        `filed at ${review.filedAt}: ${review.documentUrl}`,
        by,
      );
    Object.assign(review, { filedAt: utcIso(Date.now()), by, documentUrl: payload.documentUrl });
    run.record.resolveDeadline('post_incident_review', review.escalations > 0 ? 'missed' : 'met');
    run.record.event('review_filed', payload.documentUrl, by);
    run.resolvePages(['review-missed'], `post-incident review filed by ${by}`);
    run.send({
      kind: 'incident_review_filed',
      severity: 'info',
      audience: 'incident_commander',
      subject: `post-incident review filed`,
      body: payload.documentUrl,
    });
    run.changed();
    return null;
  });
}

/** Seed 004 §3: a breach declared after the incident, and the regulator's notification. */
function installBreach(run: IncidentRun): void {
  run.on(declareBreachMessage, (payload, by) => {
    if (run.detail.breach)
      return run.refuse(
        'declareBreach',
        'already_decided',
        `a breach was declared at ${run.detail.breach.awareSince}`,
        by,
      );
    const awareMs = payload.awareSince ? Date.parse(payload.awareSince) : Date.now();
    if (awareMs > Date.now())
      return run.refuse('declareBreach', 'not_allowed', 'awareSince is in the future', by);
    openBreach(run, by, payload.scope, awareMs);
    return null;
  });
  run.on(breachNotifiedMessage, (payload, by) => {
    const { breach } = run.detail;
    if (!breach) return run.refuse('breachNotified', 'gate_not_open', 'no data breach is declared', by);
    if (breach.notifiedAt)
      return run.refuse('breachNotified', 'already_decided', `recorded at ${breach.notifiedAt}`, by);
    Object.assign(breach, { notifiedAt: utcIso(Date.now()), notifiedBy: by, reference: payload.reference });
    run.record.resolveDeadline('breach_notification', breach.missed ? 'missed' : 'met');
    run.record.event('breach_notified', `regulator notified: ${payload.reference}`, by);
    run.resolvePages(['breach'], `regulator notified (${payload.reference}), recorded by ${by}`);
    run.send({
      kind: 'incident_breach_notified',
      severity: 'info',
      audience: 'escalation',
      recipients: run.breachRecipients(),
      subject: `data breach: regulator notified (${payload.reference})`,
      body: `Recorded by ${by}.`,
    });
    run.changed();
    return null;
  });
}

function resolve(run: IncidentRun, effects: SideEffects, by: string, summary: string): null {
  const policy = run.policy!;
  const now = Date.now();
  run.detail.resolution = { at: utcIso(now), by, summary };
  for (const name of ['commander_acknowledgement', 'next_update'])
    run.record.resolveDeadline(name, 'cancelled');
  const dueMs = businessDaysDueMs(now, policy.reviewWithinBusinessDays, policy.businessCalendar);
  run.detail.review = { dueAt: utcIso(dueMs), escalations: 0 };
  run.record.setDeadline('post_incident_review', dueMs);
  run.record.enterStep('awaiting_review', `resolved by ${by}; post-incident review due ${utcIso(dueMs)}`);
  // The incident is over: its paging, the commander's clock and the update cadence with it (the
  // breach's notification and the review are obligations of their own, resolved when done).
  run.resolvePages(['declared', 'commander', 'commander-missed', 'update-missed'], `resolved by ${by}`);
  run.send({
    kind: 'incident_resolved',
    severity: 'info',
    audience: 'incident_commander',
    subject: `resolved by ${by}; review due ${utcIso(dueMs)}`,
    body: `${summary}\nSeed 004 §5: blameless post-mortem within ${policy.reviewWithinBusinessDays} business days.`,
  });
  if (run.detail.freeze?.state === 'frozen') effects.lift(by);
  if (run.detail.customersAffected) effects.statusPage('resolve', 'resolved', summary);
  run.changed();
  return null;
}
