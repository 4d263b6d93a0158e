import { condition, proxyActivities } from '@temporalio/workflow';
import type { RepoAnalysis, RunbookActivities } from '../../activities';
import { utcIso } from '../../common/duration';
import { metricsQuery } from '../activity-options';
import { describeFailure } from '../shared/notices';
import { isPatched, PATCHES } from '../shared/patches';
import type { AnalysisRecord, Phase } from './definitions';
import type { judgeHold } from './judge';
import type { ReenablementRun } from './run';

const { analyzeRepos } = proxyActivities<RunbookActivities>(metricsQuery);

/** Keep the status small: the last analyses only (the count is kept). */
const ANALYSES_KEPT = 30;

export type HoldEnd = { kind: 'passed' } | { kind: 'failed'; reasons: string[] } | { kind: 'aborted' };

/**
 * Holds `repos` for `durationMs`, analysing every `interval`. A failing analysis ends the hold at
 * once (the caller rolls back), paused or not. While paused (by a person, or by an inconclusive
 * analysis) the analyses go on; the hold passes only on a passing analysis made after the pause
 * was lifted, so a resume never promotes a set nobody analysed.
 */
export async function hold(
  run: ReenablementRun,
  phase: Phase,
  label: string,
  durationMs: number,
  repos: string[],
  judge: typeof judgeHold,
  interval: number,
): Promise<HoldEnd> {
  const { record, detail, controls } = run;
  const analyseWhilePaused = isPatched(PATCHES.analyseWhilePaused);
  const endMs = Date.now() + durationMs;
  const deadline = `hold_${label}`;
  record.setDeadline(deadline, endMs);
  for (;;) {
    if (controls.aborted) return { kind: 'aborted' };
    const judged = await analyseOnce(run, phase, repos, judge, interval);
    if (judged.verdict === 'fail') {
      record.resolveDeadline(deadline, 'cancelled');
      return { kind: 'failed', reasons: judged.reasons };
    }
    if (judged.verdict === 'inconclusive') {
      if (!analyseWhilePaused) {
        // Recorded before the analyses went on while paused: the run waited, not analysing.
        if ((await pauseForInconclusive(run, label, judged.reasons, true)) === 'aborted')
          return { kind: 'aborted' };
        continue;
      }
      if (!detail.paused) await pauseForInconclusive(run, label, judged.reasons, false);
    }
    const ended = Date.now() >= endMs;
    // The hold's time is met once it has run with a passing analysis, even if a pause goes on.
    if (ended && analyseWhilePaused && judged.verdict === 'pass') record.resolveDeadline(deadline, 'met');
    if (ended && (!analyseWhilePaused || (!detail.paused && judged.verdict === 'pass'))) break;
    if (analyseWhilePaused && detail.paused) {
      const paused = detail.paused;
      detail.nextAction = { what: `${label}: paused, next analysis`, at: utcIso(Date.now() + interval) };
      record.describe(
        `paused by ${paused.by}: ${paused.reason}; analysing ${repos.join(',')} meanwhile; send "resume" to go on`,
      );
      await condition(() => controls.aborted !== undefined || detail.paused === undefined, interval, {
        summary: `${label}: paused, analysing every ${Math.round(interval / 60_000)} min`,
      });
      continue;
    }
    detail.nextAction = {
      what: `${label}: next analysis (hold ends ${utcIso(endMs)})`,
      at: utcIso(Math.min(Date.now() + interval, endMs)),
    };
    await condition(
      () => controls.aborted !== undefined,
      Math.max(Math.min(interval, endMs - Date.now()), 1),
      {
        summary: `${label} hold until ${utcIso(endMs)}: next analysis`,
      },
    );
  }
  record.resolveDeadline(deadline, 'met');
  if (!analyseWhilePaused && (await run.waitWhilePaused()) === 'aborted') return { kind: 'aborted' };
  return { kind: 'passed' };
}

/** One analysis of `repos`, judged and kept in the status. */
async function analyseOnce(
  run: ReenablementRun,
  phase: Phase,
  repos: string[],
  judge: typeof judgeHold,
  interval: number,
): Promise<Pick<AnalysisRecord, 'verdict' | 'reasons'>> {
  const { detail } = run;
  const analysis = await analyse(run, repos, interval);
  const judged = judge(analysis, run.policy);
  detail.analysisCount += 1;
  detail.analyses.push({ ...analysis, ...judged, phase } satisfies AnalysisRecord);
  if (detail.analyses.length > ANALYSES_KEPT) detail.analyses.shift();
  return judged;
}

/** One analysis; metrics that cannot be read count as no data (inconclusive). */
async function analyse(run: ReenablementRun, repos: string[], interval: number): Promise<RepoAnalysis> {
  try {
    return await analyzeRepos({ repos, window: windowFor(interval) });
  } catch (error) {
    run.record.event('analysis_failed', `metrics unavailable: ${describeFailure(error)}`);
    return {
      window: windowFor(interval),
      repos,
      successRate: null,
      p95LatencySeconds: null,
      errorRate: null,
      recurrence: null,
      queries: [],
      evaluatedAt: utcIso(Date.now()),
    };
  }
}

/** No data: pause for a human (and, in runs recorded before analyses went on while paused, wait). */
async function pauseForInconclusive(
  run: ReenablementRun,
  label: string,
  reasons: string[],
  wait: boolean,
): Promise<'go' | 'aborted'> {
  run.detail.paused = {
    by: 'analysis',
    reason: `inconclusive: ${reasons.join('; ')}`,
    since: utcIso(Date.now()),
    kind: 'inconclusive',
  };
  run.notices.send({
    kind: 'reenablement_inconclusive',
    severity: 'warning',
    audience: 'incident_commander',
    recipients: [run.requestedBy],
    subject: `${run.tag} analysis inconclusive during ${label}: paused for a human`,
    body: `${reasons.join('; ')}.\nCheck the metrics, then send "resume" {"by"} to continue or "abort" {"by","reason"} to stop.`,
    // A run that cannot see its own metrics waits for a person: that person must be woken.
    ...(isPatched(PATCHES.inconclusivePausePages)
      ? { page: { action: 'trigger' as const, dedupKey: run.inconclusivePageKey } }
      : {}),
  });
  if (isPatched(PATCHES.inconclusivePausePages)) run.inconclusivePageOpen = true;
  return wait ? run.waitWhilePaused() : 'go';
}

export function windowFor(intervalMs: number): string {
  return `${Math.max(1, Math.round(intervalMs / 60_000))}m`;
}
