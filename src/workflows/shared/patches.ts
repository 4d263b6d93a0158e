/**
 * Every `patched()` id in the workflow code, with what it changed. A running workflow that was
 * recorded before a change replays the old path (no marker in its history); new runs take the new
 * one. When no run recorded without a marker can still be open (retention, plus the longest
 * program), the old path is removed and the call becomes `deprecatePatch(id)`, then goes away.
 */
export const PATCHES = {
  /** A notice that pages also goes to the policy's paging channels, whatever its route (issue: fail safe and loud). */
  pagesReachPagers: 'notices-pages-reach-pagers-v1',
  /** Refused attempts are announced to the first few per person, then one summary (the record keeps them all). */
  refusalNoticesRateLimited: 'refusal-notices-rate-limited-v1',
} as const;
