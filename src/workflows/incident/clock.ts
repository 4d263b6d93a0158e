import { condition } from '@temporalio/workflow';
import { formatDuration, utcIso } from '../../common/duration';
import { isMajor } from '../../common/incident';
import { repeatInterval } from '../shared/history-budget';
import type { IncidentRun } from './run';

/**
 * The ladder's rules as durable timers. Each rule says, from the incident's state alone, which
 * alarm it wants next (what, when); the clock sleeps until the earliest one or until a message
 * changes the state, then fires what is due. An alarm fires once (keyed by what and when), so a
 * re-armed rule (a severity change, a posted update) simply asks for a new instant.
 */
interface Alarm {
  key: string;
  atMs: number;
  fire(): void;
}

const DAY_MS = 86_400_000;

/** Runs until `done()`; each pass fires the due alarms and sleeps until the next or a change. */
export async function runClock(run: IncidentRun, done: () => boolean): Promise<void> {
  while (!done()) {
    const now = Date.now();
    const alarms = wantedAlarms(run).filter((alarm) => !run.fired.has(alarm.key));
    const due = alarms.filter((alarm) => alarm.atMs <= now);
    for (const alarm of due) {
      run.fired.add(alarm.key);
      alarm.fire();
    }
    if (due.length > 0) continue;
    const next = Math.min(...alarms.map((alarm) => alarm.atMs));
    const seen = run.changes;
    await condition(
      () => run.changes !== seen || done(),
      Number.isFinite(next) ? Math.max(next - now, 1) : undefined,
    );
  }
}

/** The keys of the alarms already fired that the incident's state still asks for: what a new run must not fire again. */
export function firedAlarmsStillWanted(run: IncidentRun): string[] {
  return wantedAlarms(run)
    .map((alarm) => alarm.key)
    .filter((key) => run.fired.has(key));
}

function wantedAlarms(run: IncidentRun): Alarm[] {
  return [
    ...commanderAlarms(run),
    ...firstStepsAlarms(run),
    ...updateAlarms(run),
    ...breachAlarms(run),
    ...reviewAlarms(run),
  ];
}

/** P0: page the IC now and every repage interval until acknowledged; escalate at the deadline. */
function commanderAlarms(run: IncidentRun): Alarm[] {
  const { commander, resolution } = run.detail;
  if (!commander.ackDueAt || commander.acknowledgedAt || resolution) return [];
  const policy = run.policy!;
  const dueMs = Date.parse(commander.ackDueAt);
  const armedMs = dueMs - policy.commanderAckWithin;
  const nextPageMs = commander.nextPageAt
    ? Date.parse(commander.nextPageAt)
    : armedMs + commander.pages * policy.commanderRepageEvery;
  const page = (): void => {
    commander.pages += 1;
    // A day unanswered on a long history: the next page a day later (see history-budget).
    const next = repeatInterval(run.record, policy.commanderRepageEvery, armedMs);
    if (next.note) commander.nextPageAt = utcIso(Date.now() + next.ms);
    run.send({
      kind: 'incident_commander_page',
      severity: 'critical',
      audience: 'incident_commander',
      recipients: [commander.handle],
      page: { action: 'trigger', dedupKey: run.commanderPageKey() },
      subject: `P0: incident commander needed — acknowledge by ${commander.ackDueAt}${commander.pages > 1 ? ` (page ${commander.pages})` : ''}`,
      body: `Seed 004 §0: P0 is all-hands with an incident commander within ${formatDuration(policy.commanderAckWithin)}. Send "acknowledge" {"by":"@you"} to the incident workflow ${run.record.status.workflowId}.\nSymptoms: ${run.detail.symptoms}\nImpact: ${run.detail.impact}${next.note ? `\n${next.note}` : ''}`,
    });
  };
  return [
    { key: `commander-page:${nextPageMs}`, atMs: nextPageMs, fire: page },
    {
      key: `commander-missed:${dueMs}`,
      atMs: dueMs,
      fire: () => {
        run.record.resolveDeadline('commander_acknowledgement', 'missed');
        run.record.nonConformity(
          'commander_not_acknowledged',
          `no incident commander acknowledged within ${formatDuration(policy.commanderAckWithin)} of the P0`,
        );
        run.send({
          kind: 'incident_commander_missed',
          severity: 'critical',
          audience: 'escalation',
          recipients: run.escalationRecipients(),
          page: { action: 'trigger', dedupKey: `${run.record.status.workflowId}/commander-missed` },
          subject: `P0 without an incident commander after ${formatDuration(policy.commanderAckWithin)}`,
          body: `Nobody acknowledged as incident commander. Responders: take command now ("acknowledge").`,
        });
      },
    },
  ];
}

/** P0/P1: the first-10-minutes checklist, checked once at its deadline. */
function firstStepsAlarms(run: IncidentRun): Alarm[] {
  const deadline = run.record.status.deadlines.find((entry) => entry.name === 'first_10_minutes');
  if (!deadline || deadline.state !== 'pending') return [];
  const dueMs = Date.parse(deadline.dueAt);
  return [
    {
      key: `first-steps:${dueMs}`,
      atMs: dueMs,
      fire: () => {
        const open = run.detail.firstSteps.filter((step) => !step.doneAt).map((step) => step.item);
        if (open.length === 0) return run.record.resolveDeadline('first_10_minutes', 'met');
        run.record.resolveDeadline('first_10_minutes', 'missed');
        run.record.flag('first_steps_overdue', `first 10 minutes: not recorded done: ${open.join(', ')}`);
        run.send({
          kind: 'incident_first_steps_overdue',
          severity: 'warning',
          audience: 'incident_commander',
          recipients: [run.detail.commander.handle],
          subject: `first 10 minutes over: ${open.join(', ')} not recorded`,
          body: 'Seed 004 §1: declare, stop the bleeding, freeze, preserve, communicate. Record each with "checklist" {"by","item","note"}.',
        });
      },
    },
  ];
}

/** P0/P1: remind the IC before an update is due; a missed update escalates and the cadence goes on. */
function updateAlarms(run: IncidentRun): Alarm[] {
  const { updates, severity, resolution } = run.detail;
  if (!updates.nextDueAt || !isMajor(severity) || resolution) return [];
  const policy = run.policy!;
  const dueMs = Date.parse(updates.nextDueAt);
  const ic = run.detail.commander.handle;
  return [
    {
      key: `update-reminder:${dueMs}`,
      atMs: dueMs - policy.updateReminderBefore,
      fire: () =>
        run.send({
          kind: 'incident_update_reminder',
          severity: 'warning',
          audience: 'incident_commander',
          recipients: [ic],
          subject: `update due at ${updates.nextDueAt} (in ${formatDuration(policy.updateReminderBefore)})`,
          body: `Seed 004 §0: ${severity} — an update every ${formatDuration(policy.updateEvery)}. Send "postUpdate" {"by","text"}.`,
        }),
    },
    {
      key: `update-missed:${dueMs}`,
      atMs: dueMs,
      fire: () => {
        updates.missed += 1;
        run.record.resolveDeadline('next_update', 'missed');
        run.record.nonConformity(
          'update_missed',
          `no update by ${updates.nextDueAt} (${severity}: every ${formatDuration(policy.updateEvery)})`,
        );
        // The wait for an update began at the last one (or the declaration): a day unanswered on a
        // long history, and the next escalation comes a day later (see history-budget).
        const lastMs = Date.parse(updates.lastAt ?? run.record.status.startedAt);
        const next = repeatInterval(run.record, policy.updateEvery, lastMs);
        run.send({
          kind: 'incident_update_missed',
          severity: 'critical',
          audience: 'escalation',
          recipients: run.escalationRecipients(),
          page: {
            action: 'trigger',
            dedupKey: `${run.record.status.workflowId}/update-missed/${updates.missed}`,
          },
          subject: `${severity} update missed (due ${updates.nextDueAt}, last ${updates.lastAt ?? 'never'})`,
          body: `The incident commander ${ic} posted no update for ${formatDuration(Date.now() - lastMs)} (${severity}: one every ${formatDuration(policy.updateEvery)}). Post one now ("postUpdate").${next.note ? `\n${next.note}` : ''}`,
        });
        updates.nextDueAt = utcIso(dueMs + next.ms);
        run.record.setDeadline('next_update', dueMs + next.ms);
      },
    },
  ];
}

/** Data breach: escalations before the 72-hour regulator deadline until the notification is recorded. */
function breachAlarms(run: IncidentRun): Alarm[] {
  const { breach } = run.detail;
  if (!breach || breach.notifiedAt) return [];
  const policy = run.policy!;
  const dueMs = Date.parse(breach.dueAt);
  const escalation = (beforeMs: number): Alarm => ({
    key: `breach-escalation:${dueMs}:${beforeMs}`,
    atMs: dueMs - beforeMs,
    fire: () => {
      // Thresholds passed together (a breach declared late, a worker back after an outage): the
      // closest to the deadline speaks for all of them.
      const now = Date.now();
      if (policy.breachEscalateBefore.some((other) => other < beforeMs && now >= dueMs - other)) return;
      breach.escalations.push(utcIso(Date.now()));
      run.send({
        kind: 'incident_breach_escalation',
        severity: 'critical',
        audience: 'escalation',
        recipients: run.breachRecipients(),
        page: { action: 'trigger', dedupKey: `${run.record.status.workflowId}/breach/${beforeMs}` },
        subject: `data breach: regulator notification due ${breach.dueAt} (${formatDuration(Math.max(dueMs - Date.now(), 0))} left)`,
        body: `Seed 004 §3 (PDPL): notify SDAIA within ${formatDuration(policy.breachNotifyWithin)} of awareness (${breach.awareSince}). Record it with "breachNotified" {"by","reference"}.\nScope: ${breach.scope}`,
      });
    },
  });
  return [
    ...[...policy.breachEscalateBefore].sort((a, b) => b - a).map(escalation),
    {
      key: `breach-missed:${dueMs}`,
      atMs: dueMs,
      fire: () => {
        breach.missed = true;
        run.record.resolveDeadline('breach_notification', 'missed');
        run.record.nonConformity(
          'breach_notification_missed',
          `the regulator was not notified by ${breach.dueAt}`,
        );
        run.send({
          kind: 'incident_breach_missed',
          severity: 'critical',
          audience: 'escalation',
          recipients: run.breachRecipients(),
          page: { action: 'trigger', dedupKey: `${run.record.status.workflowId}/breach/missed` },
          subject: `data breach: the ${formatDuration(policy.breachNotifyWithin)} regulator deadline passed (${breach.dueAt})`,
          body: 'Notify now and record it ("breachNotified"); the delay itself must be explained to the regulator.',
        });
      },
    },
  ];
}

/** After resolution: remind before the review is due; a missed review escalates every day until filed. */
function reviewAlarms(run: IncidentRun): Alarm[] {
  const { review } = run.detail;
  if (!review || review.filedAt) return [];
  const policy = run.policy!;
  const dueMs = Date.parse(review.dueAt);
  const escalateAtMs = dueMs + review.escalations * DAY_MS;
  return [
    {
      key: `review-reminder:${dueMs}`,
      atMs: dueMs - policy.reviewReminderBefore,
      fire: () => {
        review.reminded = true;
        run.send({
          kind: 'incident_review_reminder',
          severity: 'warning',
          audience: 'incident_commander',
          recipients: [run.detail.commander.handle],
          subject: `post-incident review due ${review.dueAt}`,
          body: `Seed 004 §5: blameless post-mortem within ${policy.reviewWithinBusinessDays} business days (docs/incidents/YYYY-MM-DD-<slug>.md). Record it with "fileReview" {"by","documentUrl"}.`,
        });
      },
    },
    {
      key: `review-missed:${escalateAtMs}`,
      atMs: escalateAtMs,
      fire: () => {
        review.escalations += 1;
        if (review.escalations === 1) {
          run.record.resolveDeadline('post_incident_review', 'missed');
          run.record.nonConformity('review_missed', `no post-incident review filed by ${review.dueAt}`);
        }
        run.send({
          kind: 'incident_review_missed',
          severity: 'critical',
          audience: 'escalation',
          recipients: run.escalationRecipients(),
          page: {
            action: 'trigger',
            dedupKey: `${run.record.status.workflowId}/review-missed/${review.escalations}`,
          },
          subject: `post-incident review overdue since ${review.dueAt}${review.escalations > 1 ? ` (escalation ${review.escalations})` : ''}`,
          body: 'File the blameless post-mortem and record it ("fileReview").',
        });
      },
    },
  ];
}
