import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import { condition, ParentClosePolicy, proxyActivities, startChild } from '@temporalio/workflow';
import type { RunbookActivities } from '../../activities';
import { utcIso } from '../../common/duration';
import { databaseWrite, kubectlRead, notification } from '../activity-options';
import { breakGlassConsoleEditWorkflowId } from '../break-glass-console-edit/definitions';
import { breakGlassOverwriteRecoveryWorkflowId } from '../break-glass-overwrite-recovery/definitions';
import { breakGlassRebootstrapWorkflowId } from '../break-glass-rebootstrap/definitions';
import { breakGlassRestoreWorkflowId } from '../break-glass-restore/definitions';
import { phasedReenablementWorkflowId } from '../phased-reenablement/definitions';
import { rollbackToPilotWorkflowId } from '../rollback-to-pilot/definitions';
import type { CarriedWait, GuardedStep } from '../shared/fail-safe';
import { isPatched, PATCHES } from '../shared/patches';
import {
  CARRIED,
  type ChildRunbook,
  type IncidentCarry,
  type IncidentRunbook,
  type PendingEffect,
} from './definitions';
import { WORKFLOW_ACTOR, type IncidentRun } from './run';
import { follow } from './runbooks';

const { setChangeFreeze, liftChangeFreeze } = proxyActivities<RunbookActivities>(databaseWrite);
const { updateStatusPage } = proxyActivities<RunbookActivities>(notification);
const { preserveIncidentEvidence } = proxyActivities<RunbookActivities>(kubectlRead);

/** Each child runbook's workflow id for the incident (the ids its own CLI commands use). */
const CHILD_IDS: Record<ChildRunbook, (incidentId: string) => string> = {
  rollbackToPilot: rollbackToPilotWorkflowId,
  phasedReenablement: phasedReenablementWorkflowId,
  breakGlassRestore: breakGlassRestoreWorkflowId,
  breakGlassConsoleEdit: breakGlassConsoleEditWorkflowId,
  breakGlassOverwriteRecovery: breakGlassOverwriteRecoveryWorkflowId,
  breakGlassRebootstrap: breakGlassRebootstrapWorkflowId,
};

type Effect<K extends PendingEffect['effect']> = Extract<PendingEffect, { effect: K }>;

/** An effect in the queue; `resume` when it is the one whose wait for a human the last run let go. */
interface Queued {
  effect: PendingEffect;
  resume?: CarriedWait;
}

/**
 * The incident's own side effects (freeze, lift, status page, evidence, runbooks), one at a time
 * through the fail-safe, beside the clock: a freeze that cannot be written pages and waits for a
 * decision while the ladder's timers go on. Each is queued as data, so that when the incident hands
 * over to a new run (its history is long) while one waits for a human, that wait and the effects
 * behind it go along.
 */
export class SideEffects {
  private readonly queue: Queued[] = [];
  private running = false;
  /** Status page updates posted (carried when the incident continues as new: their idempotency keys). */
  private statusPageUpdates: number;
  /** Set by the workflow: whether the run wants to hand over now (its history is over budget). */
  handOverWanted: () => boolean = () => false;
  /** Set by the workflow: asked last, once a wait can be let go (a patch, recorded then). */
  carryingAllowed: () => boolean = () => false;
  /** The effect whose wait for a human was let go for the hand-over (nothing runs after it here). */
  private parked?: { effect: PendingEffect; wait: CarriedWait };

  constructor(private readonly run: IncidentRun) {
    const carried = run.input.continued;
    this.statusPageUpdates = carried?.statusPageUpdates ?? 0;
    for (const [index, effect] of (carried?.effects ?? []).entries())
      this.queue.push({
        effect,
        ...(index === 0 && carried?.waiting ? { resume: carried.waiting as unknown as CarriedWait } : {}),
      });
  }

  get idle(): boolean {
    return this.queue.length === 0 && !this.running && !this.parked;
  }

  /** An effect waits for a human and was let go: the run hands over with it. */
  get isParked(): boolean {
    return this.parked !== undefined;
  }

  freeze(by: string): void {
    this.enqueue({ effect: 'freeze', environment: this.run.detail.environment, by });
  }

  lift(by: string): void {
    this.enqueue({ effect: 'lift', by });
  }

  statusPage(
    action: 'create' | 'update' | 'resolve',
    status: 'investigating' | 'identified' | 'resolved',
    body: string,
  ): void {
    const { run } = this;
    if (!run.policy!.statusPage) {
      if (action === 'create')
        run.record.flag(
          'no_status_page',
          'a customer is affected but the policy names no status page: post the customer update by hand, then record "communicate"',
        );
      return;
    }
    const updateKey = `${run.record.status.workflowId}/status-page/${action}-${++this.statusPageUpdates}`;
    this.enqueue({ effect: 'status_page', action, status, body, updateKey });
  }

  /** Seed 004 §1.4: logs, metrics and a database reference kept before any runbook mutates (once). */
  preserve(): void {
    const { run } = this;
    if (run.detail.preservation) return;
    run.detail.preservation = { state: 'running' };
    this.enqueue({ effect: 'preserve' });
  }

  /**
   * A runbook as the incident's child (its id is the runbook's own for the incident), started only
   * once the evidence is kept. The responder starting it from the incident crosses the incident's own
   * freeze: the crossing is recorded by the runbook like any override.
   */
  startRunbook(runbook: ChildRunbook, input: Record<string, unknown>, by: string): void {
    const { run } = this;
    const workflowId = CHILD_IDS[runbook](run.input.incidentId);
    run.detail.runbooks.push({
      runbook,
      workflowId,
      startedBy: by,
      requestedAt: utcIso(Date.now()),
      state: 'waiting_for_preservation',
    });
    this.preserve();
    this.enqueue({ effect: 'start_runbook', runbook, workflowId, input, by });
  }

  /**
   * What the next run takes over when this one hands over with an effect parked: that effect and
   * its wait (with a decision sent since), then those queued behind it, status page updates kept to
   * the latest (each carries the whole text; the page shows the latest).
   */
  toCarry(): Pick<IncidentCarry, 'statusPageUpdates' | 'effects' | 'waiting'> {
    const { parked, statusPageUpdates } = this;
    if (!parked) return { statusPageUpdates };
    const queued = this.queue.map((queued) => queued.effect);
    const kept = carriedQueue(queued);
    if (kept.length < queued.length) this.countLeftOut(queued.length - kept.length);
    const decision = this.run.failSafe.decisionAfterRelease;
    return {
      statusPageUpdates,
      effects: [parked.effect, ...kept],
      waiting: { ...parked.wait, ...(decision ? { decision } : {}) } as unknown as IncidentCarry['waiting'],
    };
  }

  private enqueue(effect: PendingEffect): void {
    this.queue.push({ effect });
    this.run.changed();
  }

  /** Performs one queued effect (its state was recorded when it was queued). */
  private perform(queued: Queued): Promise<void> {
    const { effect } = queued;
    switch (effect.effect) {
      case 'freeze':
        return this.doFreeze(queued, effect);
      case 'lift':
        return this.doLift(queued, effect);
      case 'status_page':
        return this.doStatusPage(queued, effect);
      case 'preserve':
        return this.doPreserve(queued);
      case 'start_runbook':
        return this.doStartRunbook(effect);
    }
  }

  /** The fail-safe's step; its wait for a human may be let go when the run wants to hand over. */
  private guarded<T>(queued: Queued, step: GuardedStep, work: () => Promise<T>) {
    return this.run.failSafe.stepCarrying(step, work, {
      ...(queued.resume ? { resume: queued.resume } : {}),
      release: () => this.handOverWanted() && this.carriable() && this.carryingAllowed(),
    });
  }

  /**
   * Whether what is queued behind a wait fits the next run's input: at most CARRIED.effects, and
   * CARRIED.effectBytes (a runbook's input has no bound of its own; an input over 2 MB would fail the
   * hand-over at every attempt). Past that the run does not hand over, as before 0.28.0.
   */
  private carriable(): boolean {
    const kept = carriedQueue(this.queue.map((next) => next.effect));
    return kept.length < CARRIED.effects && JSON.stringify(kept).length <= CARRIED.effectBytes;
  }

  /**
   * Status page updates queue up only behind one that is slow or waits for a human (the page
   * down). Each carries the whole text and the page's subscribers are told of each, so once the
   * page is back only the latest goes out (since incident-status-page-latest-v1; before, each in
   * turn, an hour's worth of stale updates in a burst); the others are counted in a flag.
   */
  private leaveOutSupersededUpdates(): void {
    const last = this.queue.map((queued) => isStatusPageUpdate(queued.effect)).lastIndexOf(true);
    const superseded = this.queue.filter(
      (queued, index) => index < last && !queued.resume && isStatusPageUpdate(queued.effect),
    );
    if (!superseded.length || !isPatched(PATCHES.incidentStatusPageLatest)) return;
    this.queue.splice(0, this.queue.length, ...this.queue.filter((queued) => !superseded.includes(queued)));
    this.countLeftOut(superseded.length);
  }

  /**
   * Status page updates left out, in `detail.statusPageUpdatesLeftOut` and one flag kept up to date
   * (a bot posting while the page is slow would otherwise add a flag at every turn).
   */
  private countLeftOut(count: number): void {
    const { detail, record } = this.run;
    detail.statusPageUpdatesLeftOut = (detail.statusPageUpdatesLeftOut ?? 0) + count;
    const message = `${detail.statusPageUpdatesLeftOut} status page updates were not posted, each superseded by a later one while the page was slow or down: the latest is posted`;
    const flag = record.status.flags.find((found) => found.code === STATUS_PAGE_UPDATES_LEFT_OUT);
    if (flag) Object.assign(flag, { message, at: utcIso(Date.now()) });
    else record.flag(STATUS_PAGE_UPDATES_LEFT_OUT, message);
  }

  private park(queued: Queued, wait: CarriedWait): void {
    this.parked = { effect: queued.effect, wait };
  }

  private async doFreeze(queued: Queued, { environment, by }: Effect<'freeze'>): Promise<void> {
    const { run } = this;
    const done = await this.guarded(
      queued,
      {
        name: 'freeze',
        what: `record the change freeze of ${environment}`,
        skip: 'go on without a recorded freeze (runbooks will not see it)',
      },
      () =>
        setChangeFreeze({
          incidentId: run.input.incidentId,
          environment,
          workflowId: run.record.status.workflowId,
          by,
          reason: `${run.detail.severity} ${run.input.incidentId}: ${run.input.symptoms.slice(0, 200)}`,
          at: utcIso(Date.now()),
        }),
    );
    if (done.kind === 'carried') return this.park(queued, done.wait);
    if (done.kind !== 'done') {
      run.detail.freeze = { state: 'skipped', note: `${done.kind} by ${done.by}` };
      return;
    }
    run.detail.freeze = { state: 'frozen', record: done.value };
    run.firstStepDone(
      'freeze',
      WORKFLOW_ACTOR,
      `${environment} frozen: our mutating runbooks refuse to act without an override`,
    );
    run.send({
      kind: 'incident_freeze',
      severity: 'warning',
      audience: 'incident_commander',
      subject: `change freeze on ${environment}`,
      body: 'Seed 004 §1.3: no new deploys to the affected environment until green. Runbooks refuse to cross it without freezeOverride {by, reason}.',
    });
  }

  private async doLift(queued: Queued, { by }: Effect<'lift'>): Promise<void> {
    const { run } = this;
    const done = await this.guarded(
      queued,
      {
        name: 'lift_freeze',
        what: `lift the change freeze of ${run.detail.environment}`,
        skip: 'leave the freeze in force (lift it later: npm run cli -- lift-freeze)',
      },
      () =>
        liftChangeFreeze({
          incidentId: run.input.incidentId,
          environment: run.detail.environment,
          by,
          at: utcIso(Date.now()),
        }),
    );
    if (done.kind === 'carried') return this.park(queued, done.wait);
    if (done.kind === 'done' && done.value) run.detail.freeze = { state: 'lifted', record: done.value };
    else {
      // A freeze left in force holds every mutating runbook on the environment: say so, and how to lift it.
      const why = done.kind === 'done' ? 'no freeze in force was found' : `${done.kind} by ${done.by}`;
      const howTo = `npm run cli -- lift-freeze --incident ${run.input.incidentId} --environment ${run.detail.environment} --by @you --reason "…"`;
      run.detail.freeze = { ...run.detail.freeze!, note: `not lifted: ${why}` };
      if (done.kind !== 'done')
        run.record.flag(
          'freeze_not_lifted',
          `the change freeze of ${run.detail.environment} is still in force (${why}); lift it by hand: ${howTo}`,
        );
    }
    run.send({
      kind: 'incident_freeze',
      severity: 'info',
      audience: 'incident_commander',
      subject: `change freeze on ${run.detail.environment} ${run.detail.freeze.state}`,
      body: run.detail.freeze.note ? `${run.detail.freeze.note}; asked by ${by}` : `by ${by}`,
    });
  }

  private async doStatusPage(
    queued: Queued,
    { action, status, body, updateKey }: Effect<'status_page'>,
  ): Promise<void> {
    const { run } = this;
    const page = run.policy!.statusPage!;
    const done = await this.guarded(
      queued,
      {
        name: 'status_page',
        what: `${action} the status page incident`,
        skip: 'go on without this status page update',
      },
      () =>
        updateStatusPage({
          channel: page.channel,
          incidentKey: `${run.record.status.workflowId}/status-page`,
          action,
          name: `${page.service}: ${run.input.symptoms.slice(0, 100)}`,
          status,
          body,
          updateKey,
        }),
    );
    if (done.kind === 'carried') return this.park(queued, done.wait);
    if (done.kind !== 'done')
      run.record.flag(
        'status_page_not_updated',
        `the status page was not updated (${action}, ${status}): ${done.kind} by ${done.by}; post it by hand`,
      );
    else if (action === 'create')
      run.firstStepDone(
        'communicate',
        WORKFLOW_ACTOR,
        `status page ${done.value.url ?? done.value.incidentId}`,
      );
  }

  private async doPreserve(queued: Queued): Promise<void> {
    const { run } = this;
    const done = await this.guarded(
      queued,
      {
        name: 'preserve',
        what: 'keep the log tail, the incident metrics and a database reference',
        skip: 'go on without preserved evidence (runbooks may then change what was not kept)',
      },
      () =>
        preserveIncidentEvidence({
          evidenceKey: `${run.input.incidentId}-evidence`,
          window: '1h',
        }),
    );
    if (done.kind === 'carried') return this.park(queued, done.wait);
    if (done.kind !== 'done') {
      run.detail.preservation = { state: 'skipped', note: `${done.kind} by ${done.by}` };
      run.record.flag('preservation_skipped', `no evidence preserved: ${done.kind} by ${done.by}`);
      return;
    }
    const evidence = done.value;
    run.detail.preservation = { state: 'done', evidence };
    run.firstStepDone(
      'preserve',
      WORKFLOW_ACTOR,
      `logs ${evidence.logs.sha256.slice(0, 12)}, metrics ${evidence.metrics.sha256.slice(0, 12)}, database WAL ${evidence.database.walLsn}`,
    );
  }

  private async doStartRunbook({ runbook, workflowId, input, by }: Effect<'start_runbook'>): Promise<void> {
    const { run } = this;
    const incidentId = run.input.incidentId;
    // Its entry, recorded when asked: the first still waiting (a run that took it over finds it in
    // the carried detail; effects run in the order they were asked).
    let entry = run.detail.runbooks.find(
      (candidate) => candidate.workflowId === workflowId && candidate.state === 'waiting_for_preservation',
    );
    if (!entry) {
      entry = { runbook, workflowId, startedBy: by, requestedAt: utcIso(Date.now()), state: 'running' };
      run.detail.runbooks.push(entry);
    }
    const followed: IncidentRunbook = entry;
    try {
      const child = await startChild(runbook, {
        workflowId,
        args: [
          {
            ...input,
            incidentId,
            freezeOverride: { by, reason: `started by incident ${incidentId} as its response` },
          },
        ],
        parentClosePolicy: ParentClosePolicy.ABANDON,
      });
      Object.assign(entry, { state: 'running', runId: child.firstExecutionRunId });
      run.record.event('runbook_started', `${runbook} started as ${workflowId}`, by);
      follow(
        followed,
        child.result().then((result: { outcome?: string; message?: string }) => ({
          state: 'completed' as const,
          ...(result.outcome ? { outcome: result.outcome } : {}),
          ...(result.message ? { message: result.message } : {}),
        })),
      );
    } catch (error) {
      if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
      Object.assign(entry, {
        state: 'failed',
        message: `${workflowId} is already running: follow it there`,
      });
      run.record.flag('runbook_already_running', entry.message!);
    }
  }

  /** Runs queued effects in order until `finished()`. */
  async drain(finished: () => boolean): Promise<void> {
    while (!finished()) {
      // Once one is parked nothing after it runs here: they go with it to the next run.
      await condition(() => (this.queue.length > 0 && !this.parked) || finished());
      if (this.parked) continue;
      this.leaveOutSupersededUpdates();
      const next = this.queue.shift();
      if (!next) continue;
      this.running = true;
      try {
        await this.perform(next);
      } finally {
        this.running = false;
        this.run.changed();
      }
    }
  }
}

const STATUS_PAGE_UPDATES_LEFT_OUT = 'status_page_updates_left_out';

function isStatusPageUpdate(effect: PendingEffect): boolean {
  return effect.effect === 'status_page' && effect.action === 'update';
}

/** Effects queued behind a parked one, as carried: of the status page's updates only the latest. */
function carriedQueue(queued: PendingEffect[]): PendingEffect[] {
  const lastUpdate = queued.map(isStatusPageUpdate).lastIndexOf(true);
  return queued.filter((effect, index) => !isStatusPageUpdate(effect) || index === lastUpdate);
}
