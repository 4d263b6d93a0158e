import type { Pool } from 'pg';
import { tryInline, type Inline } from '../inline';
import type { CommittedWrite } from './ledger';
import { ConfigurationError } from '../../common/errors';
import {
  executeConsoleEdit,
  planConsoleEdit,
  verifyConsoleEdit,
  type ConsoleEditVerification,
  type ExecuteConsoleEditInput,
  type ExecuteConsoleEditOutcome,
  type PlanConsoleEditInput,
  type PlanConsoleEditOutcome,
  type VerifyConsoleEditInput,
} from './console-edit';
import {
  checkChangeFreeze,
  liftChangeFreeze,
  readIncidentFreezes,
  setChangeFreeze,
  type ChangeFreeze,
  type CheckChangeFreezeInput,
  type FreezeCheck,
  type LiftChangeFreezeInput,
  type ReadIncidentFreezesInput,
  type SetChangeFreezeInput,
} from './change-freeze';
import { prepareDrill, type PrepareDrillInput, type PrepareDrillOutcome } from './drill';
import {
  claimStoryProgram,
  recordStoryDecision,
  recordStoryProgramEnd,
  type ClaimStoryProgramInput,
  type RecordStoryDecisionInput,
  type RecordStoryProgramEndInput,
  type StoryClaim,
} from './story-ledger';
import type { Database } from './ftf-config';
import { findPreClobber, type FindPreClobberInput, type PreClobberOutcome } from './overwrite';
import {
  executeRebootstrap,
  planRebootstrap,
  verifyRebootstrap,
  type ExecuteRebootstrapInput,
  type ExecuteRebootstrapOutcome,
  type PlanRebootstrapInput,
  type PlanRebootstrapOutcome,
  type RebootstrapVerification,
  type VerifyRebootstrapInput,
} from './rebootstrap';
import {
  executeRestore,
  findReconcilingWrite,
  planRestore,
  verifyRestore,
  type ExecuteRestoreInput,
  type ExecuteRestoreOutcome,
  type FindReconcilingWriteInput,
  type PlanRestoreInput,
  type PlanRestoreOutcome,
  type ReconcilingWrite,
  type RestoreVerification,
  type VerifyRestoreInput,
} from './restore';

/**
 * An execute activity may be asked for its verification too (`verifyAfter`: the verification's
 * input less the id of the row the write creates): after a commit it verifies inline, saving the
 * run a workflow task and an activity; the answer is `verifiedAfter` (see ../inline.ts). Asked of
 * a retry that finds the ledger's committed write, it verifies that write again (a read).
 */
export interface VerifyAfter<Ask> {
  verifyAfter?: Ask;
}

export type Verified<Outcome, Verification> = Outcome & { verifiedAfter?: Inline<Verification> };

/** The execute activity `execute`, answering `verifyAfter` with `verify` (the ask and the committed write). */
function verifiedAfterCommit<Input extends object, Outcome extends object, Ask, Verification>(
  execute: (input: Input) => Promise<Outcome>,
  verify: (ask: Ask, write: CommittedWrite) => Promise<Verification>,
): (input: Input & VerifyAfter<Ask>) => Promise<Verified<Outcome, Verification>> {
  return async ({ verifyAfter, ...input }) => {
    const outcome = await execute(input as Input);
    // Committed: a refusal (stale plan, row gone) carries no history row and has nothing to verify.
    if (verifyAfter === undefined || !('historyId' in outcome && 'ledgerKey' in outcome)) return outcome;
    const write = outcome as unknown as CommittedWrite;
    return { ...outcome, verifiedAfter: await tryInline(() => verify(verifyAfter, write)) };
  };
}

export interface SqlDeps {
  /** The production target. */
  db: Pool;
  /** The staging copy (the drill); absent when the worker has no STAGING_DATABASE_URL. */
  stagingDb?: Pool;
  canonicalPayload: Record<string, unknown>;
  /** The environment the runbooks act on, for the change-freeze check (the incident policy's default). */
  freezeEnvironment: string;
}

export function createSqlActivities(deps: SqlDeps) {
  const poolFor = (database: Database): Pool => {
    if (database === 'target') return deps.db;
    if (!deps.stagingDb) {
      throw new ConfigurationError(
        'this worker has no staging database: set STAGING_DATABASE_URL to run the drill',
      );
    }
    return deps.stagingDb;
  };
  const canonical = deps.canonicalPayload;
  return {
    /** Procedure A step 1: recent history, target snapshot, key-by-key diff, canonical comparison, statements, fingerprint. */
    planRestore: (input: PlanRestoreInput): Promise<PlanRestoreOutcome> =>
      planRestore(poolFor, canonical, input),
    /** Procedure A step 3: the one restore transaction (fingerprint-guarded, ledgered). */
    executeRestore: verifiedAfterCommit(
      (input: ExecuteRestoreInput): Promise<ExecuteRestoreOutcome> => executeRestore(poolFor, input),
      (ask: Omit<VerifyRestoreInput, 'restoreHistoryId'>, write) =>
        verifyRestore(poolFor, canonical, { ...ask, restoreHistoryId: write.historyId }),
    ),
    /** Procedure A step 4: live row, tagged history row, canonical NEW/EQUAL/CONFLICT. */
    verifyRestore: (input: VerifyRestoreInput): Promise<RestoreVerification> =>
      verifyRestore(poolFor, canonical, input),
    /** Gating ritual gate 2: the reconciling Console write carrying change_reason = break-glass-<incident>. */
    findReconcilingWrite: (input: FindReconcilingWriteInput): Promise<ReconcilingWrite> =>
      findReconcilingWrite(poolFor, input),
    /** Procedure B: the key, its current value, the statements. */
    planConsoleEdit: (input: PlanConsoleEditInput): Promise<PlanConsoleEditOutcome> =>
      planConsoleEdit(poolFor, input),
    /** Procedure B: jsonb_set on an existing key only, history row, ledger. */
    executeConsoleEdit: verifiedAfterCommit(
      (input: ExecuteConsoleEditInput): Promise<ExecuteConsoleEditOutcome> =>
        executeConsoleEdit(poolFor, input),
      (ask: Omit<VerifyConsoleEditInput, 'historyId'>, write) =>
        verifyConsoleEdit(poolFor, { ...ask, historyId: write.historyId }),
    ),
    /** Procedure B: the key's value and the tagged history row. */
    verifyConsoleEdit: (input: VerifyConsoleEditInput): Promise<ConsoleEditVerification> =>
      verifyConsoleEdit(poolFor, input),
    /** Procedure C: the pre-clobber history id and why. */
    findPreClobber: (input: FindPreClobberInput): Promise<PreClobberOutcome> =>
      findPreClobber(poolFor, input),
    /** Procedure D: precondition (row absent) and the source snapshot (or the canonical payload). */
    planRebootstrap: (input: PlanRebootstrapInput): Promise<PlanRebootstrapOutcome> =>
      planRebootstrap(poolFor, canonical, input),
    /** Procedure D: insert unless a concurrent insert won, history row, ledger. */
    executeRebootstrap: verifiedAfterCommit(
      (input: ExecuteRebootstrapInput): Promise<ExecuteRebootstrapOutcome> =>
        executeRebootstrap(poolFor, canonical, input),
      (ask: Omit<VerifyRebootstrapInput, 'historyId'>, write) =>
        verifyRebootstrap(poolFor, canonical, { ...ask, historyId: write.historyId }),
    ),
    /** Procedure D: the live row, the history row, the canonical comparison. */
    verifyRebootstrap: (input: VerifyRebootstrapInput): Promise<RebootstrapVerification> =>
      verifyRebootstrap(poolFor, canonical, input),
    /** Drill: the sentinel row on staging and the snapshot N versions back. */
    prepareDrill: (input: PrepareDrillInput): Promise<PrepareDrillOutcome> => prepareDrill(poolFor, input),
    /** Backstop: a program claims its story (a second program needs a recorded reopen); earlier waivers. */
    claimStoryProgram: (input: ClaimStoryProgramInput): Promise<StoryClaim> =>
      claimStoryProgram(deps.db, input),
    /** Backstop: a decision, kept per story beyond the run. */
    recordStoryDecision: (input: RecordStoryDecisionInput): Promise<void> =>
      recordStoryDecision(deps.db, input),
    /** Backstop: how the story's program ended. */
    recordStoryProgramEnd: (input: RecordStoryProgramEndInput): Promise<void> =>
      recordStoryProgramEnd(deps.db, input),
    /** Incident: freeze deploys and changes to an environment (seed 004 §1.3). */
    setChangeFreeze: (input: SetChangeFreezeInput): Promise<ChangeFreeze> => setChangeFreeze(deps.db, input),
    /** Incident: lift its freeze at resolution. */
    liftChangeFreeze: (input: LiftChangeFreezeInput): Promise<ChangeFreeze | null> =>
      liftChangeFreeze(deps.db, input),
    /** Freeze lift: every freeze the incident recorded, in force or lifted. */
    readIncidentFreezes: (input: ReadIncidentFreezesInput): Promise<ChangeFreeze[]> =>
      readIncidentFreezes(deps.db, input),
    /** Every mutating runbook, before its gate: the freezes in force; an override is recorded. */
    checkChangeFreeze: (input: CheckChangeFreezeInput): Promise<FreezeCheck> =>
      checkChangeFreeze(deps.db, deps.freezeEnvironment, input),
  };
}

export type * from './restore';
export type * from './ftf-config';
export type * from './console-edit';
export type * from './rebootstrap';
export type * from './overwrite';
export type * from './drill';
export type * from './story-ledger';
export type * from './change-freeze';
export type * from './checks';
export type { CommittedWrite } from './ledger';
