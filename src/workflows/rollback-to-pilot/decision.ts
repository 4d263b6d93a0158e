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

type Thresholds = RollbackToPilotPolicy['decision'];

/** Seed 002 P1 conditions: any one means roll back now. */
function p1Conditions(facts: RollbackFacts, failingRepos: string[], t: Thresholds): string[] {
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
  return p1;
}

/** Seed 002 NO-GO criteria: the reason and what to do instead, or undefined. */
function noGo(
  severity: Severity,
  facts: RollbackFacts,
  failingRepos: string[],
  failureRate: number | null,
  t: Thresholds,
): { reason: string; alternative: string } | undefined {
  if (severity === 'P3' || severity === 'P4')
    return {
      reason: `${severity} incident: non-critical`,
      alternative: 'handle it as a normal incident; no rollback for P3/P4',
    };
  if (failingRepos.length === 1)
    return {
      reason: `single repo failing (${failingRepos[0]})`,
      alternative: `isolate the repo instead (RB-CORE-001 Flow Failure Response): remove ${failingRepos[0]} from the allowlist`,
    };
  if (failureRate !== null && failureRate < t.intermittentFailureRate)
    return {
      reason: `intermittent errors: ${(failureRate * 100).toFixed(1)} % failure rate (< ${(t.intermittentFailureRate * 100).toFixed(0)} %)`,
      alternative: 'monitor and investigate; intermittent errors do not justify a rollback',
    };
  if (facts.userError)
    return {
      reason: 'user error (incorrect config, training issue)',
      alternative: 'fix the configuration or train the user; no rollback',
    };
  return undefined;
}

/** Seed 002 P2 conditions: any one means a 30-minute triage hold, then the IC confirms. */
function p2Conditions(facts: RollbackFacts, failingRepos: string[], t: Thresholds): string[] {
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
  return p2;
}

export function decide(args: {
  severity: Severity;
  facts: RollbackFacts;
  metrics?: IncidentMetrics;
  thresholds: Thresholds;
  /**
   * Runs since `rollback-decision-severity-v1`: the declared severity counts. A P3/P4 is never
   * rolled back (a P1 condition on one is a severity to re-declare); a declared P1 corroborated by
   * a P2 condition (e.g. 10 repos failing, one short of mass failure) goes at once.
   */
  severityCounts?: boolean;
}): Decision {
  const { facts, thresholds: t } = args;
  const declared = args.severityCounts === true;
  const failingRepos = [...new Set([...(args.metrics?.failingRepos ?? []), ...(facts.failingRepos ?? [])])];
  const failureRate = facts.failureRate ?? args.metrics?.failureRate ?? null;
  const base = { failingRepos, failureRate };
  const noGoWith = (reason: string, alternative: string): Decision => ({
    ...base,
    verdict: 'no_go',
    level: null,
    reasons: [reason],
    alternative,
  });

  const p1 = p1Conditions(facts, failingRepos, t);
  const minor = args.severity === 'P3' || args.severity === 'P4';
  if (declared && minor && p1.length > 0)
    return noGoWith(
      `declared ${args.severity}, but a P1 condition holds: ${p1.join('; ')}`,
      'the severity is wrong: re-declare the incident as P1 (or P0) and start the rollback again; nothing is rolled back on a P3/P4 declaration',
    );
  if (p1.length > 0) return { ...base, verdict: 'go', level: 'P1', reasons: p1 };
  const refusal = noGo(args.severity, facts, failingRepos, failureRate, t);
  if (refusal) return noGoWith(refusal.reason, refusal.alternative);
  const p2 = p2Conditions(facts, failingRepos, t);
  if (p2.length > 0 && declared && args.severity === 'P1')
    return {
      ...base,
      verdict: 'go',
      level: 'P1',
      reasons: [`declared P1 by the incident commander, corroborated: ${p2.join('; ')}`],
    };
  if (p2.length > 0) return { ...base, verdict: 'triage', level: 'P2', reasons: p2 };
  return noGoWith(
    'no P1 or P2 rollback condition is met',
    'keep investigating; rerun with the facts when a condition is met',
  );
}
