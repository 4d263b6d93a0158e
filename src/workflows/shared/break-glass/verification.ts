import type { RestoreVerification } from '../../../activities';
import type { VerificationSummary } from './context';

/** How a restore's verification reads in the post-mortem and in the flow (A and the drill). */
export function restoreVerificationLines(verification: RestoreVerification | undefined): string[] {
  if (!verification) return ['- Verification: not run'];
  return [
    `- Live row: ${verification.liveRow.ok ? 'OK' : `NOT OK (${verification.liveRow.problems.join('; ')})`} — version ${verification.liveRow.version}`,
    `- Break-glass history row: ${verification.historyRow.ok ? 'OK' : `NOT OK (${verification.historyRow.problems.join('; ')})`}`,
    `- Canonical payload comparison: NEW ${verification.canonical.new} / EQUAL ${verification.canonical.equal} / CONFLICT ${verification.canonical.conflict}` +
      (verification.canonical.conflict > 0 ? ' — CONFLICT > 0 flagged to the IC' : ''),
  ];
}

export function summariseRestoreVerification(verification: RestoreVerification): VerificationSummary {
  const { canonical } = verification;
  return {
    ok: verification.ok,
    problems: [...verification.liveRow.problems, ...verification.historyRow.problems],
    counts: `NEW ${canonical.new} / EQUAL ${canonical.equal} / CONFLICT ${canonical.conflict}`,
    conflicts: { count: canonical.conflict, keys: canonical.conflictKeys },
  };
}
