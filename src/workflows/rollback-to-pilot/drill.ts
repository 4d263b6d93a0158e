import { proxyActivities } from '@temporalio/workflow';
import type { RunbookActivities } from '../../activities';
import { formatDuration, utcIso } from '../../common/duration';
import { localFileWrite } from '../activity-options';
import { recordDrill } from '../shared/metrics';
import type { Decision } from './decision';
import { ROLLBACK_TO_PILOT, type RollbackResult } from './definitions';
import { runStep } from './guard';
import type { RollbackRun } from './run';

const { writeDrillLog } = proxyActivities<RunbookActivities>(localFileWrite);

/**
 * The quarterly rollback drill (seed 002): the decision framework on the live metrics and the
 * full plan with server-side dry runs, timed from the drill's start against the < 20 min target,
 * and written down as a drill log. Nothing is changed; over the target, the IC and the TL are told.
 */
export async function finishDrill(run: RollbackRun, decision: Decision): Promise<RollbackResult> {
  const { record, detail, policy, notices, ic, tag } = run;
  const elapsedMs = Date.now() - run.startedMs;
  const targetMs = policy.targets.drill;
  const drill: NonNullable<RollbackRun['detail']['drill']> = (detail.drill = {
    elapsedMs,
    targetMs,
    withinSlo: elapsedMs <= targetMs,
  });
  const verdict = `${formatDuration(elapsedMs)} (target < ${formatDuration(targetMs)}): ${drill.withinSlo ? 'within' : 'OVER'} the SLO`;
  // The same drill metrics as the break-glass drill's (before, a rollback drill over its target
  // reached no metric but runs_finished_total, and the over-SLO alert never saw it).
  recordDrill(ROLLBACK_TO_PILOT, elapsedMs, targetMs, drill.withinSlo ? 'within_slo' : 'over_slo');
  record.enterStep('drill_log', `drill ${verdict}; writing the drill log`);
  const logged = await runStep(run, 'drill_log', async () => {
    const written = await writeDrillLog({
      date: utcIso(Date.now()).slice(0, 10),
      markdown: drillLog(run, decision, verdict),
      runMarker: `${record.status.workflowId}/${record.status.runId}`,
    });
    drill.log = { path: written.path };
  });
  if (logged) return run.finish(logged.outcome, logged.message);
  if (!drill.withinSlo) {
    record.flag('drill_over_slo', `the rollback drill took ${verdict}`);
    notices.send({
      kind: 'rollback_drill',
      severity: 'warning',
      audience: 'incident_commander',
      recipients: [ic, policy.escalation.engineeringTl],
      subject: `${tag} rollback drill OVER its target: ${formatDuration(elapsedMs)}`,
      body: `The quarterly rollback drill (dry run) took ${verdict}. Log: ${drill.log?.path ?? '(none)'}. Find the slow step in the log and fix it before the next incident needs it.`,
    });
  }
  return run.finish(
    drill.withinSlo ? 'drill_within_slo' : 'drill_over_slo',
    `rollback drill (dry run): decision and plan in ${verdict}; nothing was changed`,
  );
}

function drillLog(run: RollbackRun, decision: Decision, verdict: string): string {
  const { record } = run;
  const steps = record
    .stepDurations()
    .map(
      (step) =>
        `| ${step.name} | ${step.startedAt} | ${step.durationMs === undefined ? '—' : formatDuration(step.durationMs)} |`,
    );
  return [
    `# Rollback drill (RB-LAUNCH-002), ${utcIso(run.startedMs).slice(0, 10)}`,
    '',
    `- Run: ${record.status.workflowId} (started ${utcIso(run.startedMs)})`,
    `- Decision framework on the live metrics: ${decision.verdict}${decision.level ? ` (${decision.level})` : ''} — ${decision.reasons.join('; ')}`,
    '- Plan: every mutation with --dry-run=server; nothing was changed',
    `- Elapsed: ${verdict}`,
    '',
    '| step | started | took |',
    '| --- | --- | --- |',
    ...steps,
  ].join('\n');
}
