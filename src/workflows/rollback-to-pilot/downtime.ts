import { ActivityFailure, proxyActivities } from '@temporalio/workflow';
import type { RunbookActivities } from '../../activities';
import { formatDuration, utcIso } from '../../common/duration';
import { healthSample } from '../activity-options';
import { describeFailure } from '../shared/notices';
import { isPatched, PATCHES } from '../shared/patches';
import type { TargetCheck } from './definitions';
import type { RollbackRun } from './run';

const { healthChecks } = proxyActivities<RunbookActivities>(healthSample);

/**
 * Seed 002's "Downtime: < 5 minutes": from the first failing health check the run sees (sampled
 * before the first change and after each execution step, then every 15 s in step 6) to the check
 * that finds the endpoints healthy again. A failure after recovering starts nothing new: the
 * downtime runs to the last recovery. A sample that cannot be taken is no verdict; after one, the
 * run stops sampling (the probe is broken) and step 6's own check decides.
 */
export class DowntimeClock {
  static readonly POLL_MS = 15_000;
  private firstFailingMs?: number;
  private healthyAgainMs?: number;
  /** Runs recorded before `rollback-downtime-measured-v1` take one step-6 check and no samples. */
  readonly measuring: boolean;
  private sampling: boolean;

  constructor(private readonly run: RollbackRun) {
    this.measuring = isPatched(PATCHES.rollbackDowntimeMeasured);
    this.sampling = this.measuring;
  }

  /** Still down: a failing check was seen and no healthy one since. */
  get down(): boolean {
    return this.firstFailingMs !== undefined && this.healthyAgainMs === undefined;
  }

  /** How long the endpoints have been down so far (0 when no check failed). */
  downForMs(): number {
    if (this.firstFailingMs === undefined) return 0;
    return (this.healthyAgainMs ?? Date.now()) - this.firstFailingMs;
  }

  /** One sample of the endpoints after `after` (an execution step). */
  async sample(after: string): Promise<void> {
    if (!this.sampling) return;
    try {
      this.note((await healthChecks()).ok, after);
    } catch (error) {
      if (!(error instanceof ActivityFailure)) throw error;
      this.sampling = false;
      this.run.record.event(
        'downtime_unmeasured',
        `the health endpoints could not be sampled after ${after} (${describeFailure(error)}): downtime is measured from step 6 only`,
      );
    }
  }

  /** A health verdict (a sample, or step 6's own check). */
  note(healthy: boolean, after: string): void {
    const { record } = this.run;
    if (!healthy && (this.firstFailingMs === undefined || this.healthyAgainMs !== undefined)) {
      if (this.firstFailingMs === undefined) {
        this.firstFailingMs = Date.now();
        record.event('downtime_started', `a health endpoint failing after ${after}`);
      } else {
        delete this.healthyAgainMs;
        record.event('downtime_resumed', `a health endpoint failing again after ${after}`);
      }
    } else if (healthy && this.down) {
      this.healthyAgainMs = Date.now();
      record.event(
        'downtime_ended',
        `healthy again after ${after}: ${formatDuration(this.downForMs())} down`,
      );
    }
  }

  /** The target check, once step 6 is over. */
  target(targetMs: number): TargetCheck & { from?: string; to?: string } {
    const actualMs = this.downForMs();
    return {
      targetMs,
      actualMs,
      met: !this.down && actualMs < targetMs,
      ...(this.firstFailingMs !== undefined ? { from: utcIso(this.firstFailingMs) } : {}),
      ...(this.healthyAgainMs !== undefined ? { to: utcIso(this.healthyAgainMs) } : {}),
    };
  }
}
