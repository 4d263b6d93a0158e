import { ActivityFailure, ChildWorkflowFailure, condition, workflowInfo } from '@temporalio/workflow';
import { DEFAULT_FAIL_SAFE, type FailSafePolicy } from '../../common/policy/fail-safe';
import { formatDuration, utcIso } from '../../common/duration';
import { normalizeHandle } from '../../common/identity';
import { describeIssuesInline } from '../../common/validation';
import { isHumanWaitStep } from '../../common/metrics';
import { repeatInterval } from './history-budget';
import { isPatched, PATCHES } from './patches';
import { isAnnouncedCancellation, type CancellationAnnouncement } from './cancellation';
import { handleDecision } from './decisions';
import { stepDecisionMessage, stepDecisionPayloadSchema } from './messages';
import { describeFailure, type Notices } from './notices';
import type { NeedsHumanRecord, RefusedAttempt, RunRecord } from './run-record';

/**
 * One failure discipline for every runbook. When an activity fails for good (non-retryable,
 * retries exhausted, timed out), the run never ends FAILED and never goes quiet:
 * (a) it puts the target in the step's safe state, where one is defined;
 * (b) it pages the IC and the owners the seed names, with what was and was not done;
 * (c) it shows `needs_human` (status, current details, the RunbookStep search attribute);
 * (d) it waits for an operator's decision — retry the step, skip it where allowed, or abort —
 *     paging again every policy interval until one comes.
 * A safe-state action that fails is paged as CRITICAL and tried again with backoff until a human
 * answers. Only an error of our own code (not an activity failure) can still fail the run.
 */

export interface GuardedStep {
  /** The step's name, as in the status (e.g. "restrict_allowlist"). */
  name: string;
  /** What the step does, for people ("set the allowlist to the pilot repo"). */
  what: string;
  /** Who the seed says to page besides the incident commander (Engineering TL, DBA, DRI). */
  owners?: string[];
  /** What skipping the step means; absent when the runbook does not allow skipping it. */
  skip?: string;
  /** Puts the target in its safe state; returns an account of what it did. */
  safeState?: { what: string; run(): Promise<string> };
}

export type StepDecision = { decision: 'retry' | 'skip' | 'abort'; by: string; reason?: string };

export type StepOutcome<T> =
  | { kind: 'done'; value: T }
  | { kind: 'skipped'; by: string; reason?: string }
  | { kind: 'aborted'; by: string; reason?: string };

/**
 * A step's wait for a human, let go so the run can continue as new (its history is long) and taken
 * up by the next run: the same wait (its pages, its episode's dedup keys, a decision already sent),
 * not a new failure.
 */
export interface CarriedWait {
  needs: NeedsHumanRecord;
  episode: number;
  decision?: StepDecision;
}

export interface WaitCarrying {
  /** The wait the last run let go, taken up instead of trying the step first. */
  resume?: CarriedWait;
  /** Asked while the step waits for a human: true lets the wait go, to be carried. */
  release: () => boolean;
}

export interface FailSafeOptions {
  /** "[RB-LAUNCH-002 INC-1]": prefix of every page subject. */
  tag: string;
  incidentCommander: string;
  /** Who may decide (retry / skip / abort). */
  mayDecide(by: string): boolean;
  /** What was and was not done so far, for the page. */
  account?: () => string;
  /** A continued run: the wait its last run let go (see expectCarried). */
  carried?: CarriedWait;
  /** True until the run has read its policy (who may decide is not all known before). */
  rosterPending?: () => boolean;
}

/**
 * Thrown by a step's own work when an activity answered but the answer is a failure of the
 * outside world (a command that exited non-zero): handled like an activity that failed for good.
 */
export class StepFailed extends Error {
  override name = 'StepFailed';
}

/** Only a failure of the outside world is handled; anything else is a bug and fails the task. */
export function isStepFailure(error: unknown): error is ActivityFailure | ChildWorkflowFailure | StepFailed {
  return (
    error instanceof ActivityFailure || error instanceof ChildWorkflowFailure || error instanceof StepFailed
  );
}

export class FailSafe {
  private policy: FailSafePolicy = DEFAULT_FAIL_SAFE;
  private pending?: { step: GuardedStep; decision?: StepDecision; released?: true };
  private episode = 0;

  constructor(
    private readonly record: RunRecord<unknown>,
    private readonly notices: Notices,
    private readonly options: FailSafeOptions,
  ) {
    // Before the handler: a decision the server buffered for this run is handed over as it is set.
    if (options.carried) this.expectCarried(options.carried);
    handleDecision(record, stepDecisionMessage, (raw) => this.onDecision(raw));
  }

  /** The policy's intervals; a snapshot recorded before they existed keeps the defaults. */
  configure(policy: FailSafePolicy | undefined): void {
    if (policy) this.policy = policy;
  }

  /**
   * Whom a cancellation of the run is told to: the incident commander (or DRI) this fail-safe
   * pages, with the same account of what was and was not done.
   */
  cancellation(): CancellationAnnouncement {
    const { tag, incidentCommander, account } = this.options;
    return {
      tag,
      audience: 'incident_commander',
      recipients: [incidentCommander],
      ...(account ? { account } : {}),
    };
  }

  /** The step waiting for a human, if any. */
  get waiting(): string | undefined {
    return this.pending?.step.name;
  }

  /** An `abort` sent while a step waits for a human is that human's decision. */
  takeAbort(by: string, reason: string): boolean {
    if (!this.pending || this.pending.decision) return false;
    this.pending.decision = { decision: 'abort', by: `@${normalizeHandle(by)}`, reason };
    this.record.event(
      'step_decision',
      `abort of ${this.pending.step.name}: ${reason}`,
      this.pending.decision.by,
    );
    return true;
  }

  /** Runs `work`; when the outside world fails it for good, the discipline above applies. */
  step<T>(step: GuardedStep, work: () => Promise<T>): Promise<StepOutcome<T>> {
    return this.guard(step, work) as Promise<StepOutcome<T>>;
  }

  /**
   * As `step`, but a wait for a human may be let go (`carrying.release`) and is then returned
   * (`carried`) with a decision sent meanwhile, for the next run to take up (`carrying.resume`).
   */
  stepCarrying<T>(
    step: GuardedStep,
    work: () => Promise<T>,
    carrying: WaitCarrying,
  ): Promise<StepOutcome<T> | { kind: 'carried'; wait: CarriedWait }> {
    return this.guard(step, work, carrying);
  }

  /**
   * A continued run, from its start: the wait its last run let go shows (needs_human's record), and
   * a decision sent before the step takes it up is kept for it (not refused: no step waits yet).
   */
  private expectCarried(wait: CarriedWait): void {
    const { needs, decision } = wait;
    this.episode = wait.episode;
    const step = {
      name: needs.step,
      what: needs.what,
      ...(needs.options.includes('skip') ? { skip: 'skip' } : {}),
    };
    this.pending = { step, ...(decision ? { decision } : {}) };
    this.record.status.needsHuman = needs;
  }

  /** A decision sent after the wait was let go: it goes with the wait to the next run. */
  get decisionAfterRelease(): StepDecision | undefined {
    return this.pending?.released ? this.pending.decision : undefined;
  }

  private async guard<T>(
    step: GuardedStep,
    work: () => Promise<T>,
    carrying?: WaitCarrying,
  ): Promise<StepOutcome<T> | { kind: 'carried'; wait: CarriedWait }> {
    // A step guarded while the run waits (a decision written down during a sleep) shows that
    // wait again once it is retried and done, not the step's name until something else moves. A
    // wait taken up goes back to where the new run stands (responding, or awaiting its review).
    const before = this.record.status.step;
    // A human wait the step interrupts is the same wait when the run comes back to it.
    const current = this.record.status.steps.at(-1);
    const waitingSince =
      isHumanWaitStep(before) && current?.name === before
        ? (this.record.status.waitingSince ?? current.startedAt)
        : undefined;
    // Released as the step returns, in the same turn: an await more here would move this run's
    // commands against those of its other coroutines, and old histories would not replay.
    const holding = waitingSince !== undefined && this.record.holdWait(before);
    const done = <R>(outcome: R, { carried = false } = {}): R => {
      if (holding) this.record.releaseWait({ record: !carried });
      return outcome;
    };
    let resume = carrying?.resume;
    let retried = false;
    for (;;) {
      let decision: StepDecision | { carried: CarriedWait };
      if (resume) {
        decision = await this.waitForHuman(step, undefined, resume, carrying?.release);
        resume = undefined;
      } else
        try {
          const value = await work();
          if (retried && before !== step.name && this.record.status.step === step.name)
            if (isPatched(PATCHES.failSafeRestoresStep))
              this.record.enterStep(
                before,
                `${step.what}: done after a retry; back to ${before}`,
                waitingSince,
              );
          return done({ kind: 'done', value });
        } catch (error) {
          if (!isStepFailure(error)) throw error;
          // The run's own cancellation (from Temporal) ends it; it is not a step that failed.
          if (isAnnouncedCancellation(error)) throw error;
          decision = await this.waitForHuman(step, error, undefined, carrying?.release);
        }
      // The next run comes back to the wait the step interrupted, and records it whole.
      if ('carried' in decision) return done({ kind: 'carried', wait: decision.carried }, { carried: true });
      if (decision.decision === 'retry') {
        this.record.enterStep(step.name, `retrying: ${step.what} (decided by ${decision.by})`);
        retried = true;
        continue;
      }
      const reason = decision.reason ? { reason: decision.reason } : {};
      // The human has answered: a run that goes on (a skip, an incident's side effect) must not
      // keep showing needs_human, or it is counted and alerted on as waiting for one.
      if (
        this.record.status.step === 'needs_human' &&
        before !== 'needs_human' &&
        isPatched(PATCHES.failSafeDecisionLeavesNeedsHuman)
      )
        this.record.enterStep(
          before,
          `${step.what}: ${decision.decision === 'skip' ? 'skipped' : 'aborted'} by ${decision.by}; back to ${before}`,
          waitingSince,
        );
      return done(
        decision.decision === 'skip'
          ? { kind: 'skipped', by: decision.by, ...reason }
          : { kind: 'aborted', by: decision.by, ...reason },
      );
    }
  }

  /** A new failure's wait, or (`carried`) the wait a run before this one let go. */
  private async waitForHuman(
    step: GuardedStep,
    error: unknown,
    carried?: CarriedWait,
    release?: () => boolean,
  ): Promise<StepDecision | { carried: CarriedWait }> {
    const needs = carried ? this.takeUp(step, carried) : this.open(step, error);
    const pending = this.pending!;
    // A wait with a safe state to reach is never let go: that loop cannot be carried.
    const letGo = (): boolean => !step.safeState && release !== undefined && release();
    const safeState = step.safeState ? this.reachSafeState(step, needs) : Promise.resolve();
    // A cancellation of the run ends the wait below before this is awaited: its rejection (the
    // same cancellation) is handled here, or it would fail every workflow task after it.
    void safeState.catch(() => undefined);
    // Let go once paged (a decision already sent is acted on here instead).
    const released = (): { carried: CarriedWait } | undefined => {
      if (pending.decision || !letGo()) return undefined;
      pending.released = true;
      return { carried: { needs, episode: this.episode } };
    };
    // A wait taken up pages again when the last run would have, not at once.
    const firstWaitMs = carried?.needs.nextPageAt ? Date.parse(carried.needs.nextPageAt) - Date.now() : 0;
    if (firstWaitMs > 0 && !pending.decision) {
      await condition(() => this.pending?.decision !== undefined || letGo(), firstWaitMs, {
        summary: `${step.name} needs a human (page again at ${needs.nextPageAt})`,
      });
      const letGoNow = released();
      if (letGoNow) return letGoNow;
    }
    while (!pending.decision) {
      // Read before the page: a run whose history is over its budget says so in the page itself.
      const repeat = repeatInterval(this.record, this.policy.repageInterval, Date.parse(needs.since));
      this.page(step, needs, repeat.note);
      const nextMs = Date.now() + repeat.ms;
      needs.nextPageAt = utcIso(nextMs);
      await condition(
        release
          ? () => this.pending?.decision !== undefined || letGo()
          : () => this.pending?.decision !== undefined,
        repeat.ms,
        { summary: `${step.name} needs a human (page again at ${utcIso(nextMs)})` },
      );
      const letGoNow = release && released();
      if (letGoNow) return letGoNow;
    }
    await safeState;
    const decision = pending.decision;
    // A human took over while the safe state still failed: its CRITICAL page is answered too.
    if (needs.safeState?.state === 'failing')
      this.resolveSafeStatePage(step, `${decision.decision} decided by ${decision.by}`);
    this.resolvePages(needs);
    delete this.record.status.needsHuman;
    this.pending = undefined;
    return decision;
  }

  /** A step that failed for good: its wait opens, the run shows needs_human. */
  private open(step: GuardedStep, error: unknown): NeedsHumanRecord {
    this.episode += 1;
    this.pending = { step };
    const failure = describeFailure(error);
    const options: NeedsHumanRecord['options'] = step.skip ? ['retry', 'skip', 'abort'] : ['retry', 'abort'];
    const needs: NeedsHumanRecord = {
      step: step.name,
      what: step.what,
      error: failure,
      since: utcIso(Date.now()),
      paged: [this.options.incidentCommander, ...(step.owners ?? [])],
      pages: 0,
      ...(step.safeState ? { safeState: { what: step.safeState.what, state: 'running', attempts: 0 } } : {}),
      options,
      howTo: `signal "stepDecision" {"by":"@you","decision":"${options.join('|')}","reason":"…"} (CLI: npm run cli -- ${options.join('|')} --workflow-id ${workflowInfo().workflowId} --by @you --reason "…")`,
    };
    this.record.status.needsHuman = needs;
    this.record.enterStep(
      'needs_human',
      `${step.what} FAILED (${failure}); waiting for a human: ${options.join(' / ')}`,
    );
    return needs;
  }

  /** The wait a run before this one let go: its pages and episode go on; a decision sent meanwhile stands. */
  private takeUp(step: GuardedStep, carried: CarriedWait): NeedsHumanRecord {
    this.episode = carried.episode;
    const decision = this.pending?.decision ?? carried.decision;
    this.pending = { step, ...(decision ? { decision } : {}) };
    const needs = carried.needs;
    this.record.status.needsHuman = needs;
    this.record.takeUpStep(
      'needs_human',
      `${step.what} FAILED (${needs.error}) at ${needs.since}; still waiting for a human: ${needs.options.join(' / ')}`,
      needs.since,
    );
    return needs;
  }

  /** The safe-state action, tried again with backoff (CRITICAL page on each failure) until it works or a human answers. */
  private async reachSafeState(step: GuardedStep, needs: NeedsHumanRecord): Promise<void> {
    const safe = needs.safeState!;
    let backoff = this.policy.safeStateRetryInitial;
    while (this.pending && !this.pending.decision) {
      safe.attempts += 1;
      try {
        safe.account = await step.safeState!.run();
        safe.state = 'done';
        delete safe.error;
        this.record.event('safe_state', `${safe.what}: ${safe.account}`);
        if (safe.attempts > 1) this.resolveSafeStatePage(step, `${safe.what}: done — ${safe.account}`);
        return;
      } catch (error) {
        if (!isStepFailure(error)) throw error;
        if (isAnnouncedCancellation(error)) throw error;
        safe.state = 'failing';
        safe.error = describeFailure(error);
        const retry = repeatInterval(this.record, backoff, Date.parse(needs.since));
        this.notices.send({
          kind: 'safe_state_failed',
          severity: 'critical',
          audience: 'escalation',
          recipients: needs.paged,
          page: { action: 'trigger', dedupKey: this.safeStatePageKey(step) },
          subject: `${this.options.tag} CRITICAL: could not ${safe.what} after ${step.name} failed`,
          body: `${safe.error}\nTrying again in ${formatDuration(retry.ms)} until a human decides (${needs.options.join(' / ')}).\n${needs.howTo}${retry.note ? `\n${retry.note}` : ''}`,
        });
        await condition(() => this.pending?.decision !== undefined, retry.ms);
        backoff = Math.min(backoff * 2, this.policy.safeStateRetryMax);
      }
    }
  }

  /** The CRITICAL "could not reach the safe state" page, resolved: reached later, or a human decided. */
  private resolveSafeStatePage(step: GuardedStep, why: string): void {
    if (!isPatched(PATCHES.safeStatePageResolved)) return;
    this.notices.send({
      kind: 'safe_state_failed',
      severity: 'info',
      audience: 'escalation',
      page: { action: 'resolve', dedupKey: this.safeStatePageKey(step) },
      subject: `${this.options.tag} safe state after ${step.name} failed: ${why}`,
      body: why,
    });
  }

  private safeStatePageKey(step: GuardedStep): string {
    return `${this.record.status.workflowId}/safe-state/${step.name}`;
  }

  private page(step: GuardedStep, needs: NeedsHumanRecord, slowed?: string): void {
    needs.pages += 1;
    const account = this.options.account?.();
    if (account) needs.account = account;
    const safe = needs.safeState;
    this.notices.send({
      kind: needs.pages === 1 ? 'needs_human' : 'needs_human_repage',
      severity: 'critical',
      audience: 'escalation',
      recipients: needs.paged,
      page: { action: 'trigger', dedupKey: this.dedupKey(step, needs.pages) },
      subject: `${this.options.tag} ${step.name} FAILED — a human must decide${needs.pages > 1 ? ` (page ${needs.pages})` : ''}`,
      body: [
        `${step.what} failed for good: ${needs.error}`,
        ...(safe
          ? [
              `Safe state (${safe.what}): ${safe.state}${safe.account ? ` — ${safe.account}` : ''}${safe.error ? ` — ${safe.error}` : ''}`,
            ]
          : []),
        ...(account ? [`So far: ${account}`] : []),
        `Decide: ${needs.options.join(' / ')}${step.skip ? ` (skip = ${step.skip})` : ''}.`,
        needs.howTo,
        ...(slowed ? [slowed] : []),
      ].join('\n'),
    });
  }

  private resolvePages(needs: NeedsHumanRecord): void {
    const step = this.pending!.step;
    for (let n = 1; n <= needs.pages; n += 1) {
      this.notices.send({
        kind: 'needs_human_resolved',
        severity: 'info',
        audience: 'escalation',
        page: { action: 'resolve', dedupKey: this.dedupKey(step, n) },
        subject: `${this.options.tag} ${step.name}: ${this.pending!.decision!.decision} decided by ${this.pending!.decision!.by}`,
        body: this.pending!.decision!.reason ?? '',
      });
    }
  }

  private dedupKey(step: GuardedStep, page: number): string {
    return `${this.record.status.workflowId}/needs-human/${step.name}/${this.episode}/${page}`;
  }

  private onDecision(raw: unknown): void | Promise<RefusedAttempt | null> {
    const parsed = stepDecisionPayloadSchema.safeParse(raw);
    const refuse = this.record.refuser('stepDecision');
    if (!parsed.success)
      return refuse('invalid_payload', describeIssuesInline(parsed.error, 'stepDecision payload'));
    const by = `@${normalizeHandle(parsed.data.by)}`;
    const pending = this.pending;
    if (!pending) return refuse('gate_not_open', 'no step is waiting for a human', by);
    if (pending.decision)
      return refuse('already_decided', `already ${pending.decision.decision} by ${pending.decision.by}`, by);
    if (!this.options.mayDecide(by)) {
      // A wait taken over from the last run, before this run has read its policy: the roster is not
      // known yet, so the decision waits for it (the policy read) instead of being refused.
      if (this.options.rosterPending?.()) return this.onceRosterKnown(raw);
      return refuse('not_authorized', `${by} may not decide for this run`, by);
    }
    if (parsed.data.decision === 'skip' && !pending.step.skip)
      return refuse('not_allowed', `${pending.step.name} cannot be skipped: retry or abort`, by);
    pending.decision = {
      decision: parsed.data.decision,
      by,
      ...(parsed.data.reason ? { reason: parsed.data.reason } : {}),
    };
    this.record.event(
      'step_decision',
      `${parsed.data.decision} of ${pending.step.name}${parsed.data.reason ? `: ${parsed.data.reason}` : ''}`,
      by,
    );
  }

  /** The decision, checked again once the run knows who may decide: its refusal, or null. */
  private async onceRosterKnown(raw: unknown): Promise<RefusedAttempt | null> {
    await condition(() => !this.options.rosterPending!());
    const before = this.record.status.refusedTotal ?? 0;
    void this.onDecision(raw);
    return (this.record.status.refusedTotal ?? 0) > before
      ? this.record.status.refusedAttempts.at(-1)!
      : null;
  }
}
