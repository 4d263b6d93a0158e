import type { RepoAnalysis } from '../../activities';
import type { PhasedReenablementPolicy } from '../../common/policy';
import type { AnalysisRecord } from './definitions';

/** Seed 002 success criteria for a hold: success ≥ 99 %, p95 < 120 s, zero recurrence. No data = inconclusive. */
export function judgeHold(
  analysis: RepoAnalysis,
  policy: PhasedReenablementPolicy,
): Pick<AnalysisRecord, 'verdict' | 'reasons'> {
  const missing = (['successRate', 'p95LatencySeconds', 'recurrence'] as const).filter(
    (key) => analysis[key] === null,
  );
  if (missing.length) return { verdict: 'inconclusive', reasons: [`no data for ${missing.join(', ')}`] };
  const reasons: string[] = [];
  if (analysis.successRate! < policy.successRateMin)
    reasons.push(
      `success rate ${(analysis.successRate! * 100).toFixed(2)} % < ${policy.successRateMin * 100} %`,
    );
  if (analysis.p95LatencySeconds! >= policy.p95MaxSeconds)
    reasons.push(`p95 ${analysis.p95LatencySeconds!.toFixed(1)} s ≥ ${policy.p95MaxSeconds} s`);
  if (analysis.recurrence! > 0) reasons.push(`${analysis.recurrence} recurrences of the incident symptoms`);
  return reasons.length ? { verdict: 'fail', reasons } : { verdict: 'pass', reasons: [] };
}

/** Seed 003 exit targets: error rate < 0.5 %, p95 within +15 % of the baseline. */
export function judgeGreen(
  analysis: RepoAnalysis,
  policy: PhasedReenablementPolicy,
): Pick<AnalysisRecord, 'verdict' | 'reasons'> {
  if (analysis.errorRate === null || analysis.p95LatencySeconds === null)
    return { verdict: 'inconclusive', reasons: ['no data for the exit targets'] };
  const { errorRateMax, p95BaselineSeconds, p95MaxIncrease } = policy.exitTargets;
  const p95Limit = p95BaselineSeconds * (1 + p95MaxIncrease);
  const reasons: string[] = [];
  if (analysis.errorRate >= errorRateMax)
    reasons.push(`error rate ${(analysis.errorRate * 100).toFixed(2)} % ≥ ${errorRateMax * 100} %`);
  if (analysis.p95LatencySeconds > p95Limit)
    reasons.push(
      `p95 ${analysis.p95LatencySeconds.toFixed(1)} s > baseline ${p95BaselineSeconds} s + ${p95MaxIncrease * 100} %`,
    );
  return reasons.length ? { verdict: 'fail', reasons } : { verdict: 'pass', reasons: [] };
}
