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
import { describeFailure } from '../shared/notices';
import type { ChildRunbook, IncidentRunbook } from './definitions';
import { WORKFLOW_ACTOR, type IncidentRun } from './run';

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

/**
 * The incident's own side effects (freeze, lift, status page), one at a time through the fail-safe,
 * beside the clock: a freeze that cannot be written pages and waits for a decision while the
 * ladder's timers go on.
 */
export class SideEffects {
  private readonly queue: (() => Promise<void>)[] = [];
  private running = false;
  /** Status page updates posted (carried when the incident continues as new). */
  statusPageUpdates: number;

  constructor(private readonly run: IncidentRun) {
    this.statusPageUpdates = run.input.continued?.statusPageUpdates ?? 0;
  }

  get idle(): boolean {
    return this.queue.length === 0 && !this.running;
  }

  freeze(by: string): void {
    const { run } = this;
    const environment = run.detail.environment;
    this.queue.push(async () => {
      const done = await run.failSafe.step(
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
    });
    run.changed();
  }

  lift(by: string): void {
    const { run } = this;
    this.queue.push(async () => {
      const done = await run.failSafe.step(
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
    });
    run.changed();
  }

  statusPage(
    action: 'create' | 'update' | 'resolve',
    status: 'investigating' | 'identified' | 'resolved',
    body: string,
  ): void {
    const { run } = this;
    const page = run.policy!.statusPage;
    if (!page) {
      if (action === 'create')
        run.record.flag(
          'no_status_page',
          'a customer is affected but the policy names no status page: post the customer update by hand, then record "communicate"',
        );
      return;
    }
    const updateKey = `${run.record.status.workflowId}/status-page/${action}-${++this.statusPageUpdates}`;
    this.queue.push(async () => {
      const done = await run.failSafe.step(
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
    });
    run.changed();
  }

  /** Seed 004 §1.4: logs, metrics and a database reference kept before any runbook mutates (once). */
  preserve(): void {
    const { run } = this;
    if (run.detail.preservation) return;
    run.detail.preservation = { state: 'running' };
    this.queue.push(async () => {
      const done = await run.failSafe.step(
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
    });
    run.changed();
  }

  /**
   * A runbook as the incident's child (its id is the runbook's own for the incident), started only
   * once the evidence is kept. The responder starting it from the incident crosses the incident's own
   * freeze: the crossing is recorded by the runbook like any override.
   */
  startRunbook(runbook: ChildRunbook, input: Record<string, unknown>, by: string): void {
    const { run } = this;
    const incidentId = run.input.incidentId;
    const entry: IncidentRunbook = {
      runbook,
      workflowId: CHILD_IDS[runbook](incidentId),
      startedBy: by,
      requestedAt: utcIso(Date.now()),
      state: 'waiting_for_preservation',
    };
    run.detail.runbooks.push(entry);
    this.preserve();
    this.queue.push(async () => {
      try {
        const child = await startChild(runbook, {
          workflowId: entry.workflowId,
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
        run.record.event('runbook_started', `${runbook} started as ${entry.workflowId}`, by);
        // Followed, not awaited: the incident goes on (and may end) while its runbooks run.
        void child.result().then(
          (result: { outcome?: string; message?: string }) =>
            Object.assign(entry, {
              state: 'completed',
              ...(result.outcome ? { outcome: result.outcome } : {}),
              ...(result.message ? { message: result.message } : {}),
            }),
          (error: unknown) => Object.assign(entry, { state: 'failed', message: describeFailure(error) }),
        );
      } catch (error) {
        if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
        Object.assign(entry, {
          state: 'failed',
          message: `${entry.workflowId} is already running: follow it there`,
        });
        run.record.flag('runbook_already_running', entry.message!);
      }
    });
    run.changed();
  }

  /** Runs queued effects in order until `finished()`. */
  async drain(finished: () => boolean): Promise<void> {
    while (!finished()) {
      await condition(() => this.queue.length > 0 || finished());
      const next = this.queue.shift();
      if (!next) continue;
      this.running = true;
      try {
        await next();
      } finally {
        this.running = false;
        this.run.changed();
      }
    }
  }
}
