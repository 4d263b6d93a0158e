import { continueAsNew, setHandler, workflowInfo } from '@temporalio/workflow';
import type { z } from 'zod';
import type { RunbookPolicySnapshot } from '../../activities';
import { utcIso } from '../../common/duration';
import { atHandle as handle, sameHandle } from '../../common/identity';
import { FIRST_STEPS, isMajor, type FirstStep, type Severity } from '../../common/incident';
import type { IncidentPolicy } from '../../common/policy/incident';
import { handleDecision, type DecisionMessage } from '../shared/decisions';
import { FailSafe, type CarriedWait } from '../shared/fail-safe';
import { statusQuery } from '../shared/messages';
import { Notices, type NoticeDraft, type OpenPage } from '../shared/notices';
import { isPatched, PATCHES } from '../shared/patches';
import {
  RunRecord,
  type DeadlineRecord,
  type Finding,
  type RefusalReason,
  type RefusedAttempt,
} from '../shared/run-record';
import { firedAlarmsStillWanted } from './clock';
import { describeIssuesInline } from '../../common/validation';
import {
  INCIDENT,
  acknowledgeMessage,
  assignRoleMessage,
  changeSeverityMessage,
  checklistMessage,
  CARRIED,
  HELD,
  type HeldMessage,
  type IncidentCarry,
  type IncidentDetail,
  type IncidentInput,
  type IncidentInputParsed,
  type IncidentResult,
} from './definitions';

/** Who the workflow itself names as the doer of what it did on its own (freeze, status page). */
export const WORKFLOW_ACTOR = '@durable-runbooks';

/**
 * One incident's state and the messages that change it. Every change bumps `changes`, which wakes
 * the clock (clock.ts) to re-arm its timers from the new state; the clock never reads a message.
 */
export class IncidentRun {
  readonly record: RunRecord<IncidentDetail>;
  readonly notices: Notices;
  readonly failSafe: FailSafe;
  tag: string;
  policy?: IncidentPolicy;
  changes = 0;
  /** Alarms already fired (clock.ts keys them by what and when). */
  readonly fired = new Set<string>();
  /** Set while the run hands over to its next (continue-as-new): messages are held, not acted on. */
  holding = false;
  private readonly held: HeldMessage[] = [];
  private heldBytes = 0;
  private readonly handlers = new Map<string, (raw: unknown) => RefusedAttempt | null>();

  /** When the incident was declared: its first run's start. */
  readonly declaredMs: number;

  constructor(readonly input: IncidentInputParsed) {
    const carry = input.continued;
    const now = carry ? Date.parse(carry.detail.declaredAt) : workflowInfo().startTime.getTime();
    this.declaredMs = now;
    const ic = handle(input.incidentCommander);
    this.tag = `[${carry?.detail.severity ?? input.severity} ${input.incidentId}]`;
    this.record = new RunRecord<IncidentDetail>(
      INCIDENT,
      input.incidentId,
      carry
        ? (carry.detail as unknown as IncidentDetail)
        : {
            severity: input.severity,
            severityHistory: [
              { severity: input.severity, at: utcIso(now), by: handle(input.declaredBy), reason: 'declared' },
            ],
            symptoms: input.symptoms,
            impact: input.impact,
            customersAffected: input.customersAffected,
            conditions: input.conditions,
            environment: input.environment ?? '',
            declaredBy: handle(input.declaredBy),
            declaredAt: utcIso(now),
            commander: { handle: ic, pages: 0 },
            roles: { incident_commander: [ic] },
            firstSteps: FIRST_STEPS.map((item) => ({ item })),
            updates: { count: 0, missed: 0 },
            runbooks: [],
          },
    );
    setHandler(statusQuery, () => this.record.status);
    this.notices = new Notices(this.record);
    this.failSafe = new FailSafe(this.record, this.notices, {
      tag: this.tag,
      incidentCommander: ic,
      mayDecide: (by) => this.mayAct(by),
      account: () => this.account(),
      ...(carry?.waiting ? { carried: carry.waiting as unknown as CarriedWait } : {}),
      rosterPending: () => this.policy === undefined,
    });
    this.record.setMemoSummary(`${input.severity} ${input.incidentId}: ${input.symptoms.slice(0, 120)}`);
    if (carry) this.takeOver(carry);
    this.installHandlers();
  }

  /** A continued run: the state, deadlines, findings, events and open pages its last run left. */
  private takeOver(carry: IncidentCarry): void {
    const { status } = this.record;
    this.record.carryTrail(carry.trail);
    status.startedAt = carry.startedAt;
    status.deadlines = carry.deadlines as DeadlineRecord[];
    status.nonConformities = carry.nonConformities;
    status.events = carry.events;
    if (carry.eventsOmitted) status.eventsOmitted = carry.eventsOmitted;
    for (const key of carry.alarmsFired) this.fired.add(key);
    for (const page of carry.pagesOpen) this.notices.carryOpenPage(page as OpenPage);
    // Held, with whatever comes before the policy is read (the state's clocks need it): resume() acts.
    this.held.push(...carry.held);
    this.holding = true;
  }

  /**
   * Hands the incident to a new run of its workflow id (called once its effects are idle, its
   * notices delivered and its messages handled): its history is over its budget, and Temporal
   * terminates a run at its history limit, silently. What the status keeps goes along; runbooks
   * it started go on (they were abandoned, not awaited), only their end is no longer followed.
   */
  handOver(effects: Pick<IncidentCarry, 'statusPageUpdates' | 'effects' | 'waiting'>): Promise<never> {
    const { record, detail, input } = this;
    const { historyLength, historySize } = workflowInfo();
    const at = utcIso(Date.now());
    const runsBefore = (input.continued?.runsBefore ?? 0) + 1;
    detail.continuedAsNew = { runs: runsBefore + 1, lastAt: at, events: historyLength };
    for (const entry of detail.runbooks)
      // One still waiting for the evidence is started by the next run (its effect is carried).
      if (entry.state === 'running')
        entry.message = `followed until the incident continued as new at ${at}: its end is in ${entry.workflowId}`;
    const keep = <T>(list: T[], max: number): { kept: T[]; omitted: number } => ({
      kept: list.slice(-max),
      omitted: Math.max(list.length - max, 0),
    });
    record.event(
      'continued_as_new',
      `run ${runsBefore} handed over at ${historyLength} history events: the incident goes on in a new run (same workflow id)`,
    );
    const severities = keep(detail.severityHistory, CARRIED.severityHistory);
    const runbooks = keep(detail.runbooks, CARRIED.runbooks);
    const recent = keep(record.status.events, CARRIED.events);
    const findings = carriedFindings(
      record.status.nonConformities,
      input.continued?.nonConformitiesOmitted ?? 0,
      at,
    );
    const carry: IncidentCarry = {
      runsBefore,
      startedAt: record.status.startedAt,
      handedOver: { at, events: historyLength, bytes: historySize },
      detail: {
        ...detail,
        severityHistory: severities.kept,
        runbooks: runbooks.kept,
        ...(severities.omitted
          ? { severityChangesOmitted: (detail.severityChangesOmitted ?? 0) + severities.omitted }
          : {}),
        ...(runbooks.omitted ? { runbooksOmitted: (detail.runbooksOmitted ?? 0) + runbooks.omitted } : {}),
      },
      deadlines: record.status.deadlines,
      nonConformities: findings.findings,
      ...(findings.omitted ? { nonConformitiesOmitted: findings.omitted } : {}),
      events: recent.kept as unknown as IncidentCarry['events'],
      eventsOmitted: (record.status.eventsOmitted ?? 0) + recent.omitted,
      alarmsFired: firedAlarmsStillWanted(this).slice(-CARRIED.alarmsFired),
      pagesOpen: this.notices.pagesOpen.slice(-CARRIED.pagesOpen) as unknown as IncidentCarry['pagesOpen'],
      ...effects,
      held: this.held,
      // Its human wait (needs_human, the review) is taken up by the next run.
      trail: record.trailToCarry({ waitGoesOn: true }),
    };
    return continueAsNew<(input: IncidentInput) => Promise<IncidentResult>>({ ...input, continued: carry });
  }

  get detail(): IncidentDetail {
    return this.record.status.detail;
  }

  configure(snapshot: RunbookPolicySnapshot<'incident'>, policy: IncidentPolicy): void {
    this.policy = policy;
    this.notices.configure(snapshot.notifications);
    this.failSafe.configure(snapshot.failSafe);
    this.record.markTestOnlyIf(snapshot.testOnlyShortDurations);
    if (!this.detail.environment) this.detail.environment = policy.defaultEnvironment;
  }

  /** The responders roster, the incident commander, whoever declared it and whoever holds a role. */
  mayAct(by: string): boolean {
    const allowed = [
      ...(this.policy?.responders ?? []),
      this.detail.commander.handle,
      this.detail.declaredBy,
      ...Object.values(this.detail.roles).flat(),
    ];
    return allowed.some((member) => sameHandle(member, by));
  }

  changed(): void {
    this.changes += 1;
  }

  /** Who gets the incident's escalations: the IC and the responders roster. */
  escalationRecipients(): string[] {
    return unique([this.detail.commander.handle, ...(this.policy?.responders ?? []).map(handle)]);
  }

  /** Seed 004 §8 "PDPL breach candidate": the paging matrix's data_breach people and the IC. */
  breachRecipients(): string[] {
    return unique([this.detail.commander.handle, ...(this.policy?.paging.data_breach ?? []).map(handle)]);
  }

  send(draft: Omit<NoticeDraft, 'subject'> & { subject: string }): void {
    this.notices.send({ ...draft, subject: `${this.tag} ${draft.subject}` });
  }

  /** A P0/P1's first step done by `by` (the first record of it counts; later ones are events). */
  firstStepDone(item: FirstStep, by: string, note?: string): void {
    const step = this.detail.firstSteps.find((entry) => entry.item === item)!;
    if (step.doneAt) return;
    step.doneAt = utcIso(Date.now());
    step.by = by;
    if (note) step.note = note;
    this.record.event('first_step', `${item} done${note ? `: ${note}` : ''}`, by);
    this.changed();
  }

  /** Arms the ladder's rules for the severity now in force (at declaration and on each change). */
  armSeverity(severity: Severity, previous: Severity | undefined): void {
    const policy = this.policy!;
    // Declared: the ladder's clocks run from the declaration (the run's start), not from whenever
    // its first task got to them; re-graded: from the change.
    const now = previous === undefined ? this.declaredMs : Date.now();
    const { commander, updates } = this.detail;
    this.tag = `[${severity} ${this.input.incidentId}]`;
    if (severity === 'P0' && !commander.acknowledgedAt) {
      // A new acknowledgement window pages at once, whatever an earlier P0 episode sent.
      if (previous !== 'P0') {
        commander.pages = 0;
        delete commander.nextPageAt;
      }
      commander.ackDueAt = utcIso(now + policy.commanderAckWithin);
      this.record.setDeadline('commander_acknowledgement', now + policy.commanderAckWithin);
    } else if (commander.ackDueAt && !commander.acknowledgedAt) {
      delete commander.ackDueAt;
      this.record.resolveDeadline('commander_acknowledgement', 'cancelled');
    }
    if (isMajor(severity)) {
      // A severity change is itself announced; the next update is due a full interval later.
      updates.nextDueAt = utcIso(now + policy.updateEvery);
      this.record.setDeadline('next_update', now + policy.updateEvery);
      if (!this.record.status.deadlines.some((deadline) => deadline.name === 'first_10_minutes'))
        this.record.setDeadline('first_10_minutes', now + policy.firstStepsWithin);
    } else if (updates.nextDueAt) {
      delete updates.nextDueAt;
      this.record.resolveDeadline('next_update', 'cancelled');
    }
    if (previous !== undefined) this.changed();
  }

  private installHandlers(): void {
    this.on(acknowledgeMessage, (_payload, by) => this.acknowledge(by));
    this.on(changeSeverityMessage, (payload, by) => {
      if (this.detail.resolution)
        return this.refuse('changeSeverity', 'too_late', 'the incident is resolved', by);
      const previous = this.detail.severity;
      if (payload.severity === previous)
        return this.refuse('changeSeverity', 'not_allowed', `the incident is already ${previous}`, by);
      this.detail.severity = payload.severity;
      this.detail.severityHistory.push({
        severity: payload.severity,
        at: utcIso(Date.now()),
        by,
        reason: payload.reason,
      });
      this.record.event('severity_changed', `${previous} → ${payload.severity}: ${payload.reason}`, by);
      this.armSeverity(payload.severity, previous);
      this.send({
        kind: 'incident_severity_changed',
        severity: payload.severity === 'P0' ? 'critical' : 'warning',
        audience: 'incident_commander',
        subject: `severity ${previous} → ${payload.severity} (${by})`,
        body: payload.reason,
      });
      return null;
    });
    this.on(checklistMessage, (payload, by) => {
      const step = this.detail.firstSteps.find((entry) => entry.item === payload.item)!;
      if (step.doneAt)
        return this.refuse(
          'checklist',
          'already_decided',
          `${payload.item} was recorded done by ${step.by} at ${step.doneAt}`,
          by,
        );
      this.firstStepDone(payload.item, by, payload.note);
      return null;
    });
    this.on(assignRoleMessage, (payload, by) => {
      const holder = handle(payload.handle);
      const holders = (this.detail.roles[payload.role] ??= []);
      if (payload.role === 'incident_commander') {
        // One incident commander (seed 004 §1.1): a handover, acknowledged by the new IC's act.
        holders.splice(0, holders.length, holder);
        this.detail.commander = { ...this.detail.commander, handle: holder };
      } else if (!holders.includes(holder)) holders.push(holder);
      this.record.event('role_assigned', `${payload.role}: ${holder}`, by);
      this.send({
        kind: 'incident_role_assigned',
        severity: 'info',
        audience: 'incident_commander',
        recipients: [holder],
        subject: `${holder} is ${payload.role.replace(/_/g, ' ')} (assigned by ${by})`,
        body: 'Seed 004 §4: IC drives the response; Ops Lead mitigates; Comms Lead updates; Scribe keeps the timeline.',
      });
      this.changed();
      return null;
    });
  }

  private acknowledge(by: string): RefusedAttempt | null {
    const { commander } = this.detail;
    if (commander.acknowledgedAt)
      return this.refuse(
        'acknowledge',
        'already_decided',
        `acknowledged by ${commander.handle} at ${commander.acknowledgedAt}`,
        by,
      );
    // Whoever acknowledges commands (seed 004 §0: "incident commander within 15 min").
    commander.handle = by;
    commander.acknowledgedAt = utcIso(Date.now());
    this.detail.roles.incident_commander = [by];
    this.record.resolveDeadline('commander_acknowledgement', 'met');
    this.record.event('commander_acknowledged', `${by} is the incident commander`, by);
    this.resolvePages(['commander-missed'], `incident commander ${by} acknowledged`);
    if (commander.pages > 0)
      this.send({
        kind: 'incident_commander_acknowledged',
        severity: 'info',
        audience: 'escalation',
        page: { action: 'resolve', dedupKey: this.commanderPageKey() },
        subject: `incident commander ${by} acknowledged`,
        body: `after ${commander.pages} page(s)`,
      });
    this.changed();
    return null;
  }

  /** Resolves the run's open pages under `<workflowId>/<name>` that `why` answers (incident-pages-resolved-v1). */
  resolvePages(names: string[], why: string): void {
    this.notices.resolveAnswered(names, PATCHES.incidentPagesResolved, why, this.tag);
  }

  commanderPageKey(): string {
    return `${this.record.status.workflowId}/commander`;
  }

  /** Registers a message (signal and Update) whose sender must be allowed to act on the incident. */
  on<P extends { by: string }>(
    message: DecisionMessage<[P]> & { schema: z.ZodType },
    act: (payload: P, by: string) => RefusedAttempt | null,
  ): void {
    const name = message.update.name;
    const handleMessage = (raw: unknown): RefusedAttempt | null => {
      const parsed = message.schema.safeParse(raw);
      if (!parsed.success)
        return this.refuse(name, 'invalid_payload', describeIssuesInline(parsed.error, `${name} payload`));
      const payload = parsed.data as P;
      const by = handle(payload.by);
      if (!this.mayAct(by)) {
        // Before the policy is read its roster of responders is not known: held until it is
        // (a signal; an Update is sent back, see busy()), not refused for a roster unread.
        if (this.policy === undefined && isPatched(PATCHES.incidentRosterBeforePolicy))
          return this.hold(name, raw);
        return this.refuse(name, 'not_authorized', `${by} is not a responder on this incident`, by);
      }
      return act(payload, by);
    };
    this.handlers.set(name, handleMessage);
    handleDecision(
      this.record,
      message,
      (raw) => (this.holding ? this.hold(name, raw) : handleMessage(raw)),
      () => this.busy(),
    );
  }

  /**
   * Why an Update cannot be taken in now: while messages are held, nothing has checked one (its
   * sender, the incident's state) and the next run may refuse it, so an Update, which answers its
   * sender, is not held but sent back to be sent again (a signal, which answers nothing, is held).
   */
  private busy(): string | undefined {
    // Before the policy is read, who may act is not all known (a new run, or one just declared).
    if (this.policy === undefined)
      return this.input.continued
        ? "the incident's new run is reading its policy"
        : 'the incident is reading its policy, just declared';
    return this.holding ? 'the incident is moving to a new run, its history is long' : undefined;
  }

  /**
   * While the run hands over to its next one, a message is held (its effects and notices would keep
   * the hand-over waiting) and goes to the next run, which acts on it first. Past HELD's bound it is
   * refused `busy`, to be sent again.
   */
  private hold(name: string, payload: unknown): RefusedAttempt | null {
    const bytes = JSON.stringify(payload ?? null).length;
    if (this.held.length >= HELD.messages || this.heldBytes + bytes > HELD.bytes)
      return this.refuse(
        name,
        'busy',
        `the incident is moving to a new run (its history is long): ${this.held.length} messages are held already; send it again in a minute`,
      );
    this.held.push({ name, payload, at: utcIso(Date.now()) });
    this.heldBytes += bytes;
    return null;
  }

  /** Acts on the messages held (by this run's hand-over that did not happen, or the last run's), in order. */
  releaseHeld(): void {
    this.holding = false;
    this.heldBytes = 0;
    for (const message of this.held.splice(0)) this.handlers.get(message.name)?.(message.payload);
  }

  refuse(signal: string, reason: RefusalReason, detail: string, by?: string): RefusedAttempt {
    return this.record.refused({ signal, reason, detail, ...(by ? { by } : {}) });
  }

  /** What the incident has and has not done, for a page. */
  private account(): string {
    const { freeze, firstSteps, updates } = this.detail;
    const done = firstSteps.filter((step) => step.doneAt).map((step) => step.item);
    // A freeze this run leaves in force (cancelled, lift skipped) is lifted with `lift-freeze`.
    const frozen =
      freeze?.state === 'frozen' ? ' (if this run cannot lift it: npm run cli -- lift-freeze)' : '';
    return `first steps done: ${done.join(', ') || 'none'}; freeze: ${freeze?.state ?? 'not set'}${frozen}; updates: ${updates.count}`;
  }
}

const EARLIER_FINDINGS = 'earlier_non_conformities';

/**
 * The latest non-conformities, one line for those before (`omittedBefore` of them left out by
 * earlier hand-overs): a P1 nobody updates adds one every 30 min, 17,000 a year, and a hand-over
 * over 2 MB would fail at every attempt.
 */
export function carriedFindings(
  findings: Finding[],
  omittedBefore: number,
  at: string,
): { findings: Finding[]; omitted: number } {
  if (findings.length <= CARRIED.nonConformities) return { findings, omitted: omittedBefore };
  const own = findings.filter((finding) => finding.code !== EARLIER_FINDINGS);
  const kept = own.slice(-(CARRIED.nonConformities - 1));
  const omitted = omittedBefore + own.length - kept.length;
  const summary: Finding = {
    code: EARLIER_FINDINGS,
    message: `${omitted} earlier non-conformities are in the histories of the runs before this one, left out when the incident continued as new`,
    at,
  };
  return { findings: [summary, ...kept], omitted };
}

function unique(handles: string[]): string[] {
  return [...new Set(handles)];
}
