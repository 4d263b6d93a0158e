import { patched } from '@temporalio/workflow';

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
  /** Re-enablement: analyses go on while paused; a failing one rolls back; a resume analyses before promoting. */
  analyseWhilePaused: 'reenablement-analyse-while-paused-v1',
  /** Re-enablement: no phase or batch goes live while the run is paused (pacing included). */
  phasesWaitWhilePaused: 'reenablement-phases-wait-while-paused-v1',
  /** Re-enablement: a repo's alert rule is enabled (verified) when it goes live, disabled when rolled back. */
  alertRulesFollowRepos: 'reenablement-alert-rules-follow-repos-v1',
  /** Re-enablement: an abort puts the allowlist back to the last good set unless asked to keep it. */
  abortReturnsToLastGood: 'reenablement-abort-returns-to-last-good-v1',
  /** Re-enablement: hold overrides may lengthen the seed's holds, never shorten them. */
  reenablementHoldFloors: 'reenablement-hold-floors-v1',
  /** Break-glass A/D: CONFLICT > 0 after the write holds the run until the IC acknowledges it (seed 000 step 4.3). */
  conflictHold: 'break-glass-conflict-hold-v1',
  /** Rollback: Prometheus unreadable at the decision → needs_human (retry, skip = decide on the facts alone, abort), not a quiet NO-GO. */
  rollbackMetricsNeedHuman: 'rollback-metrics-need-human-v1',
  /** Re-enablement: an analysis it cannot make (metrics unreadable) pages the requester, not only notifies. */
  inconclusivePausePages: 'reenablement-inconclusive-pause-pages-v1',
  /** A run under a test-only policy sets RunbookTestOnly and says so in its status and result. */
  testOnlyMarked: 'test-only-policy-marked-v1',
  /** Backstop: a tracker write or the revert command that fails for good waits for a human (paged); an unreadable probe is unavailable evidence, which pages. */
  backstopFailSafe: 'backstop-fail-safe-v1',
  /** Break-glass B, C and the drill: a read that fails for good (Console pods, pre-clobber search, staging, drill log) waits for a human instead of ending or failing the run. */
  breakGlassReadsNeedHuman: 'break-glass-reads-need-human-v1',
  /** A refused decision sent as an Update fails it (the Web UI shows only failures), the answer in its details. */
  decisionRefusalFailsUpdate: 'decision-refusal-fails-update-v1',
  /** Backstop: a waiver ends at the earlier of decision + 30 days and T+120; one asked at or after T+120 is refused. */
  backstopWaiverCap: 'backstop-waiver-cap-v1',
  /** Backstop: checkpoints already past at the start are evaluated once, marked late; a superseded one asks nothing. */
  backstopExplicitCatchUp: 'backstop-explicit-catch-up-v1',
  /** Backstop: the story's DRI, trackers and probe come from the policy's declared programs, not the input. */
  backstopStoryFromPolicy: 'backstop-story-from-policy-v1',
  /** Backstop: a program claims its story in Postgres (a second one needs a recorded reopen); decisions and the end are kept per story. */
  backstopStoryLedger: 'backstop-story-ledger-v1',
  /** A step guarded during a wait, retried and done, shows the wait again (not its own name until the next step). */
  failSafeRestoresStep: 'fail-safe-restores-step-v1',
  /** Re-enablement: after each phase-3 batch with more to come, the run continues as new, carrying its state. */
  reenablementContinuesAsNew: 'reenablement-continue-as-new-v1',
  /** Backstop: after each checkpoint that does not end it, the program continues as new, carrying its record. */
  backstopContinuesAsNew: 'backstop-continue-as-new-v1',
  /** Backstop: the policy read returns the run's own story, not every story the policy declares. */
  backstopPolicyOneStory: 'backstop-policy-one-story-v1',
  /** Mutating runbooks read the incidents' change freezes before their gate and refuse to cross one without an override. */
  changeFreezeChecked: 'change-freeze-checked-v1',
  /** Rollback: the execution and total clocks start at the go decision (a P2's triage no longer counts). */
  rollbackClocksFromGo: 'rollback-clocks-from-go-v1',
  /** Rollback: the decision counts the declared severity (P3/P4 never rolled back; a P1 corroborated by a P2 condition goes at once). */
  rollbackDecisionSeverity: 'rollback-decision-severity-v1',
  /** Break-glass B: the operator attests that the edit cannot wait for the Console before anything is planned (seed 000 step 2). */
  consoleEditUrgency: 'console-edit-urgency-v1',
  /** Rollback: the policy's writers are frozen (scaled to zero, fence set) before the rollback mutates, unfrozen after green is held. */
  rollbackWriterFreeze: 'rollback-writer-freeze-v1',
  /** Break-glass B: a value that cannot be confirmed by eye needs a second operator (the sole-operator exception does not apply). */
  consoleEditPairReview: 'console-edit-pair-review-v1',
  /** Backstop: a revert runs the releaseRollback runbook as a child (helm tag pin, else merge revert) when the policy has one. */
  backstopReleaseRollback: 'backstop-release-rollback-v1',
  /** Re-enablement: a staging soak (seed 002 §2) or an approver's signed waiver before the canary, when the policy has one. */
  reenablementStagingSoak: 'reenablement-staging-soak-v1',
  /** Re-enablement: the change freezes are read again before each phase or batch goes live; a new one holds it. */
  reenablementFreezeRechecked: 'reenablement-freeze-rechecked-v1',
  /** Rollback: downtime measured from the first failing health check to healthy again (step 6 polls up to the 5 min target). */
  rollbackDowntimeMeasured: 'rollback-downtime-measured-v1',
  /** Backstop: a new program reads its policy and claims its story in one activity (one workflow task less before it sleeps). */
  backstopOpensInOneStep: 'backstop-open-program-v1',
  /** Break-glass: the opening reads the policy with the plan (A, D) and the change freezes; the transaction verifies its write inline (fewer round trips to the server). */
  breakGlassInlineSteps: 'break-glass-inline-steps-v1',
  /** Re-enablement: an abort during the staging soak deletes the soak job (else it loaded staging until its deadline). */
  reenablementSoakStoppedOnAbort: 'reenablement-soak-stopped-on-abort-v1',
  /** Re-enablement: a run aborted after its soak read failed for good deletes the soak job too. */
  reenablementSoakStoppedAfterFailedRead: 'reenablement-soak-stopped-after-failed-read-v1',
  /** Re-enablement: a run aborted after its soak job's start failed for good deletes the job an attempt may have created. */
  reenablementSoakStoppedAfterFailedStart: 'reenablement-soak-stopped-after-failed-start-v1',
  /** Backstop: a wait is one timer; a decision that comes during it is written down without restarting the timer. */
  backstopOneTimerPerWait: 'backstop-one-timer-per-wait-v1',
  /** A run cancelled from Temporal says so (record, notice, deadlines); the fail-safe does not take the cancellation for a failed step. Asked when the cancellation comes. */
  runCancellationAnnounced: 'run-cancellation-announced-v1',
  /** Procedure C cancelled while its Procedure A child runs ends CANCELED and announces it (was: COMPLETED procedure_a_failed). Asked when that cancellation comes. */
  overwriteRecoveryCancelledWithChild: 'overwrite-recovery-cancelled-with-child-v1',
  /** Backstop: a new program's opening (policy read and story claim) is a local activity, so it sleeps after its first workflow task. */
  backstopOpensLocally: 'backstop-open-program-local-v1',
  /** Freeze lift: under an incident policy with requireSignedFreezeLifts, nothing is lifted without a responder's signed approval of that lift. */
  freezeLiftSigned: 'freeze-lift-signed-v1',
  /** A skip or abort of a step shown as needs_human leaves that step (the run going on no longer shows needs_human). Asked at the decision. */
  failSafeDecisionLeavesNeedsHuman: 'fail-safe-decision-leaves-needs-human-v1',
  /** Re-enablement: an abort of the alert rules' enabling ends the run (allowlist back to the last good set), as every other abort does. Asked at the decision. */
  reenablementAlertAbortEndsRun: 'reenablement-alert-abort-ends-run-v1',
  /** An abort while the change freezes could not be read ends the run "aborted", not "refused_change_freeze" (no freeze refused it). Asked at the decision. */
  freezeCheckAbortIsAborted: 'freeze-check-abort-is-aborted-v1',
  /** Re-enablement: the page of an inconclusive pause is resolved when a person resumes or the run ends. Asked then. */
  inconclusivePageResolved: 'reenablement-inconclusive-page-resolved-v1',
  /** Backstop: the T+90 escalation pages are resolved once the decision is recorded. Asked then. */
  backstopT90PagesResolved: 'backstop-t90-pages-resolved-v1',
  /** The fail-safe's CRITICAL "could not reach the safe state" page is resolved once the safe state is reached or a human decides. Asked then. */
  safeStatePageResolved: 'fail-safe-safe-state-page-resolved-v1',
  /** A run cancelled from Temporal resolves the pages that asked it for something (needs_human, a pause, a decision) and lists the pages it leaves open. Asked when the cancellation comes. */
  cancellationResolvesPages: 'run-cancellation-resolves-pages-v1',
  /** Break-glass: a committed write whose verification failed or was skipped makes the run non-conforming (outcome `…_non_conforming`), not only flagged. Asked then. */
  unverifiedWriteNonConforming: 'break-glass-unverified-write-non-conforming-v1',
  /** Backstop: a dry run reads the story's ledger (no claim), so it says when the real start would be refused without a reopen. Asked by a dry run. */
  backstopDryRunReadsLedger: 'backstop-dry-run-reads-ledger-v1',
  /** Incident: a page is resolved once what it asked is done (declaration and commander pages at the resolution, a missed update at the next update, the breach pages at the regulator's notification, an overdue review when filed). Asked then, when such a page is open. */
  incidentPagesResolved: 'incident-pages-resolved-v1',
  /** Release rollback: the pin-failed and overdue pages are resolved once the merge revert is verified (old code running). Asked then, when such a page is open. */
  releaseRollbackPagesResolved: 'release-rollback-pages-resolved-v1',
  /** Break-glass: the opening (policy read, plan, change freezes: reads only) is a local activity, so the first workflow task goes on to the gate. */
  breakGlassOpensLocally: 'break-glass-open-local-v1',
  /** A signed decision's check is a local activity: as an activity, anyone who can call Temporal's API could complete it by id with a verdict of their own and open a gate that requires a signature. Asked at each check. */
  signatureCheckLocal: 'signature-check-local-v1',
  /** An activity result that is not sealed under the payload keys (completed by id through Temporal's API, by something without them) is refused as the activity failing for good. Asked when one comes. */
  sealedActivityResults: 'sealed-activity-results-v1',
  /** A cancellation at a human wait the fail-safe returned to says since when the wait began, not since the return. Asked then. */
  cancellationSinceWaitBegan: 'run-cancellation-since-wait-began-v1',
  /** An activity completed with no payload at all (a runbooks worker seals even an empty result) is refused as the activity failing for good, as an unsealed one is. Asked when one comes. */
  absentActivityResultsRefused: 'absent-activity-results-refused-v1',
  /** An activity result sealed by a runbooks worker for another activity (copied from its completion in some history) is refused as the activity failing for good. Asked when one comes. */
  transplantedActivityResultsRefused: 'transplanted-activity-results-refused-v1',
  /** Pages, reminders and retries that repeat until a human acts come at most daily once the run's history is over its budget (Temporal terminates a run at its history limit). */
  repeatsSlowedOverHistoryBudget: 'repeats-slowed-over-history-budget-v1',
  /** A run keeps at most its policy's number of notice deliveries in flight; more wait their turn (Temporal fails every workflow task of a run over its pending-activity limit). Asked when one would go over. */
  deliveriesBoundedInFlight: 'notice-deliveries-bounded-in-flight-v1',
  /** Incident: a run whose history is over its budget continues as new (its state carried) once nothing is in flight. Asked then. */
  incidentContinuesAsNew: 'incident-continues-as-new-v1',
  /** Incident: a side effect's wait for a human is let go when the history is over its budget, and carried to the new run. Asked then. */
  incidentCarriesHumanWait: 'incident-carries-human-wait-v1',
  /** Incident: of the status page updates queued (behind one that waited), only the latest is posted; the others are counted. Asked when one would be left out. */
  incidentStatusPageLatest: 'incident-status-page-latest-v1',
  /** Incident: a message from someone not known to be a responder before the policy (its roster) is read is held until it is, not refused. Asked then. */
  incidentRosterBeforePolicy: 'incident-roster-before-policy-v1',
  /** Incident: a runbook an earlier run started and followed until it handed over is followed again by the new run (an activity waits for its end). Asked then. */
  incidentFollowsCarriedRunbooks: 'incident-follows-carried-runbooks-v1',
  /** A run whose start (or the run it continues) already holds its runbook and incident search attributes, or its memo's summary, writes them only when they differ. Fold-only (foldHolds): a run started before PATCH_FOLD_V5 writes them as before. */
  startAttributesKept: 'start-attributes-kept-v1',
} as const;

export type PatchId = (typeof PATCHES)[keyof typeof PATCHES];

/**
 * One marker for the 32 patches of 0.5.0, in runs started on 0.5.0 (asked at the run's start).
 * Each `patched()` writes a marker and the SDK core upserts `TemporalChangeVersion` with it: a
 * backstop programme wrote five of each (ten events, five visibility writes) before its first
 * timer. A run that records this
 * fold takes every folded patch's new path (as `patched()` would in a new run) with one marker;
 * a run recorded without it (0.1.0–0.4.0) asks each patch as before, so its history replays.
 *
 * The list is fixed: a patch added after the fold is asked on its own (`isPatched` calls
 * `patched()` for it), or a run that recorded this fold before the patch existed would take the
 * patch's path on replay. A later fold gets its own id and list (PATCH_FOLD_V2).
 */
export const PATCH_FOLD_V1 = {
  id: 'patches-folded-v1',
  patches: [
    PATCHES.pagesReachPagers,
    PATCHES.refusalNoticesRateLimited,
    PATCHES.analyseWhilePaused,
    PATCHES.phasesWaitWhilePaused,
    PATCHES.alertRulesFollowRepos,
    PATCHES.abortReturnsToLastGood,
    PATCHES.reenablementHoldFloors,
    PATCHES.conflictHold,
    PATCHES.rollbackMetricsNeedHuman,
    PATCHES.inconclusivePausePages,
    PATCHES.testOnlyMarked,
    PATCHES.backstopFailSafe,
    PATCHES.breakGlassReadsNeedHuman,
    PATCHES.decisionRefusalFailsUpdate,
    PATCHES.backstopWaiverCap,
    PATCHES.backstopExplicitCatchUp,
    PATCHES.backstopStoryFromPolicy,
    PATCHES.backstopStoryLedger,
    PATCHES.failSafeRestoresStep,
    PATCHES.reenablementContinuesAsNew,
    PATCHES.backstopContinuesAsNew,
    PATCHES.backstopPolicyOneStory,
    PATCHES.changeFreezeChecked,
    PATCHES.rollbackClocksFromGo,
    PATCHES.rollbackDecisionSeverity,
    PATCHES.consoleEditUrgency,
    PATCHES.rollbackWriterFreeze,
    PATCHES.consoleEditPairReview,
    PATCHES.backstopReleaseRollback,
    PATCHES.reenablementStagingSoak,
    PATCHES.reenablementFreezeRechecked,
    PATCHES.rollbackDowntimeMeasured,
  ] as readonly PatchId[],
} as const;

/**
 * The 0.5.0 fold and the patches since (0.6.0 recorded v1 and then each of those on its own, a
 * marker and a `TemporalChangeVersion` upsert each): runs started from 0.7.0 on record this one.
 * Fixed like v1; a patch added after it is asked on its own until a v3.
 */
export const PATCH_FOLD_V2 = {
  id: 'patches-folded-v2',
  patches: [...PATCH_FOLD_V1.patches, PATCHES.backstopOpensInOneStep] as readonly PatchId[],
} as const;

/**
 * v2 and the patches since 0.7.0 (break-glass inline steps, the re-enablement's soak stops, the
 * backstop's one timer per wait): runs started from 0.9.0 on record this one. Fixed like v1.
 */
export const PATCH_FOLD_V3 = {
  id: 'patches-folded-v3',
  patches: [
    ...PATCH_FOLD_V2.patches,
    PATCHES.breakGlassInlineSteps,
    PATCHES.reenablementSoakStoppedOnAbort,
    PATCHES.reenablementSoakStoppedAfterFailedRead,
    PATCHES.reenablementSoakStoppedAfterFailedStart,
    PATCHES.backstopOneTimerPerWait,
  ] as readonly PatchId[],
} as const;

/**
 * v3 and the patches since 0.9.0: the two asked only when a cancellation comes, and the backstop's
 * local opening. Runs started from 0.12.0 on record this one, so a new programme asks no
 * `patched()` of its own after its opening's local activity, which can outlast a workflow task (the
 * SDK then completes the task and goes on in another; test/workflows/backstop.test.ts replays such
 * a history). Fixed like v1.
 */
export const PATCH_FOLD_V4 = {
  id: 'patches-folded-v4',
  patches: [
    ...PATCH_FOLD_V3.patches,
    PATCHES.runCancellationAnnounced,
    PATCHES.overwriteRecoveryCancelledWithChild,
    PATCHES.backstopOpensLocally,
  ] as readonly PatchId[],
} as const;

/**
 * v4 and the start attributes kept (0.33.0): runs started from 0.33.0 on record this one. A run
 * given its search attributes and memo at its start (`backstopStartOptions`, as the CLI and the bench
 * start them) writes no upsert for them: a backstop programme reached its first timer with three
 * search-attribute upserts and a memo change, each a history event and a visibility write (with
 * two of them a minimal sleeper went to sleep 26 % slower, the dev server 7 ms of CPU more per
 * run). The patches added since v4 are still asked on their own (they were each asked only when
 * needed). Fixed like v1.
 */
export const PATCH_FOLD_V5 = {
  id: 'patches-folded-v5',
  patches: [...PATCH_FOLD_V4.patches, PATCHES.startAttributesKept] as readonly PatchId[],
} as const;

/** Newest first: a new run records the first; a run recorded earlier answers to the one it has. */
export const PATCH_FOLDS = [
  PATCH_FOLD_V5,
  PATCH_FOLD_V4,
  PATCH_FOLD_V3,
  PATCH_FOLD_V2,
  PATCH_FOLD_V1,
] as const;

// Per run: the SDK evaluates workflow modules once per run (only src/workflows/shared-zod.ts is
// preloaded and shared), so this is the run's own answer.
let foldRecorded: readonly PatchId[] | undefined;

/**
 * Asks the folds once, as the run's first command (parseWorkflowInput calls it): the newest one's
 * marker in a new run, found in the history on replay (an older run's fold, or none before 0.5.0,
 * writes nothing new). It sits at the same place in every history, wherever the code asks its
 * first patch, so removing a deprecated patch's call later cannot move it. Returns the patches
 * the run's fold holds.
 */
export function askPatchFold(): readonly PatchId[] {
  return (foldRecorded ??= PATCH_FOLDS.find((fold) => patched(fold.id))?.patches ?? []);
}

/**
 * Whether the run's fold holds `id`, without asking anything: false before the fold was asked (at
 * the input's parse) and in a run recorded without a fold that holds it. For a change only runs
 * started with that fold make (no `patched()` marker of its own, which would cost the events the
 * change saves).
 */
export function foldHolds(id: PatchId): boolean {
  return foldRecorded?.includes(id) ?? false;
}

/** `patched(id)`, answered by the run's fold marker when it has one (see PATCH_FOLDS). */
export function isPatched(id: PatchId): boolean {
  return askPatchFold().includes(id) || patched(id);
}
