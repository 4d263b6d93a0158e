import type { IncidentMetrics } from '../../activities';
import type { RollbackToPilotPolicy } from '../../common/policy';
import type { RollbackFacts, Severity } from './definitions';

/**
 * RB-LAUNCH-002 "Decision Framework", as a pure function of the supplied facts and the metrics:
 * any P1 condition → go now; otherwise a NO-GO criterion → refuse with the seed's alternative;
 * otherwise a P2 condition → 30-min triage hold, then the IC's confirmation; otherwise refuse.
 */

export interface Decision {
  verdict: 'go' | 'triage' | 'no_go';
  level: 'P1' | 'P2' | null;
  reasons: string[];
  /** For a NO-GO: what to do instead. */
  alternative?: string;
  failingRepos: string[];
  failureRate: number | null;
}

export function decide(args: {
  severity: Severity;
  facts: RollbackFacts;
  metrics?: IncidentMetrics;
  thresholds: RollbackToPilotPolicy['decision'];
}): Decision {
  const { facts, thresholds: t } = args;
  const failingRepos = [...new Set([...(args.metrics?.failingRepos ?? []), ...(facts.failingRepos ?? [])])];
  const failureRate = facts.failureRate ?? args.metrics?.failureRate ?? null;
  const base = { failingRepos, failureRate };

  const p1: string[] = [];
  if ((facts.crashLoopMinutes ?? 0) > t.crashLoopMinutes) {
    p1.push(
      `FlowEngine crash loop: deployment unavailable ${facts.crashLoopMinutes} min (> ${t.crashLoopMinutes})`,
    );
  }
  if (facts.databaseCorruption) p1.push('database corruption: TaskDB integrity compromised');
  if (facts.securityBreach) p1.push('security breach: credentials leaked or unauthorized access');
  if ((facts.dailySpendUsd ?? 0) > t.dailySpendLimitUsd)
    p1.push(`cost runaway: $${facts.dailySpendUsd}/day (> $${t.dailySpendLimitUsd})`);
  if (failingRepos.length > t.massFailureRepos) {
    p1.push(`mass concurrent failures: ${failingRepos.length} repos failing (> ${t.massFailureRepos})`);
  }
  if (p1.length > 0) return { ...base, verdict: 'go', level: 'P1', reasons: p1 };

  if (args.severity === 'P3' || args.severity === 'P4') {
    return {
      ...base,
      verdict: 'no_go',
      level: null,
      reasons: [`${args.severity} incident: non-critical`],
      alternative: 'handle it as a normal incident; no rollback for P3/P4',
    };
  }
  if (failingRepos.length === 1) {
    return {
      ...base,
      verdict: 'no_go',
      level: null,
      reasons: [`single repo failing (${failingRepos[0]})`],
      alternative: `isolate the repo instead (RB-CORE-001 Flow Failure Response): remove ${failingRepos[0]} from the allowlist`,
    };
  }
  if (failureRate !== null && failureRate < t.intermittentFailureRate) {
    return {
      ...base,
      verdict: 'no_go',
      level: null,
      reasons: [
        `intermittent errors: ${(failureRate * 100).toFixed(1)} % failure rate (< ${(t.intermittentFailureRate * 100).toFixed(0)} %)`,
      ],
      alternative: 'monitor and investigate; intermittent errors do not justify a rollback',
    };
  }
  if (facts.userError) {
    return {
      ...base,
      verdict: 'no_go',
      level: null,
      reasons: ['user error (incorrect config, training issue)'],
      alternative: 'fix the configuration or train the user; no rollback',
    };
  }

  const p2: string[] = [];
  if ((facts.lowKillRateRepoShare ?? 0) >= t.killRateRepoShare) {
    p2.push(
      `persistent quality degradation: < ${t.killRateFloor * 100} % mutation kill-rate across ${Math.round((facts.lowKillRateRepoShare ?? 0) * 100)} % of repos`,
    );
  }
  if (
    facts.p95Sustained &&
    facts.p95Sustained.seconds > t.p95SloSeconds &&
    facts.p95Sustained.hours > t.p95SloHours
  ) {
    p2.push(`sustained SLO violation: p95 ${facts.p95Sustained.seconds} s for ${facts.p95Sustained.hours} h`);
  }
  if (facts.allProvidersRateLimited) p2.push('model API quota exhaustion: all 3 providers rate-limiting');
  const cascading = Math.max(facts.sameRootCauseRepos ?? 0, failingRepos.length);
  if (cascading >= t.cascadingRepos)
    p2.push(`cascading failures: ${cascading} repos failing (≥ ${t.cascadingRepos})`);
  if (p2.length > 0) return { ...base, verdict: 'triage', level: 'P2', reasons: p2 };

  return {
    ...base,
    verdict: 'no_go',
    level: null,
    reasons: ['no P1 or P2 rollback condition is met'],
    alternative: 'keep investigating; rerun with the facts when a condition is met',
  };
}
