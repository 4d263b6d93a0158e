import type { CanonicalComparison, RestoreVerification } from '../../../activities';
import type { NoticeDetail } from '../../../common/notice';
import type { VerificationSummary } from './context';

/** The seed script's counts: "NEW 0 / EQUAL 455 / CONFLICT 0". */
export function canonicalCounts(canonical: CanonicalComparison): string {
  return `NEW ${canonical.new} / EQUAL ${canonical.equal} / CONFLICT ${canonical.conflict}`;
}

/** The plan's canonical comparison, shown before approval (seed 000 step 4.3 computed ahead). */
export function canonicalPlanDetail(canonical: CanonicalComparison | undefined, of: string): NoticeDetail[] {
  if (!canonical) return [];
  const conflict =
    canonical.conflict > 0
      ? ` — CONFLICT on ${canonical.conflictKeys.slice(0, 10).join(', ')}${canonical.conflict > 10 ? ', …' : ''}: ` +
        'an operator-tuned snapshot, or the wrong id; the run will hold after the write until the IC acknowledges'
      : '';
  return [{ label: `Canonical payload vs ${of}`, value: `${canonicalCounts(canonical)}${conflict}` }];
}

/** How a restore's verification reads in the post-mortem and in the flow (A and the drill). */
export function restoreVerificationLines(verification: RestoreVerification | undefined): string[] {
  if (!verification) return ['- Verification: not run'];
  return [
    `- Live row: ${verification.liveRow.ok ? 'OK' : `NOT OK (${verification.liveRow.problems.join('; ')})`} — version ${verification.liveRow.version}`,
    `- Break-glass history row: ${verification.historyRow.ok ? 'OK' : `NOT OK (${verification.historyRow.problems.join('; ')})`}`,
    `- Canonical payload comparison: ${canonicalCounts(verification.canonical)}` +
      (verification.canonical.conflict > 0 ? ' — CONFLICT > 0 flagged to the IC' : ''),
  ];
}

export function summariseRestoreVerification(verification: RestoreVerification): VerificationSummary {
  const { canonical } = verification;
  return {
    ok: verification.ok,
    problems: [...verification.liveRow.problems, ...verification.historyRow.problems],
    counts: canonicalCounts(canonical),
    conflicts: { count: canonical.conflict, keys: canonical.conflictKeys },
  };
}
