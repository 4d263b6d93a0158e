import type { BreakGlassRunbookName } from '../common/policy';
import { tryInline, type Inline } from './inline';
import type { createPolicyActivities, RunbookPolicySnapshot } from './policy';
import type { CheckChangeFreezeInput, createSqlActivities, FreezeCheck } from './sql';

type SqlActivities = ReturnType<typeof createSqlActivities>;

/** The plans a procedure may have computed at its opening: those that are its first step (A, D). */
export type PlanAheadActivity = 'planRestore' | 'planRebootstrap';
export type PlanAhead = {
  [K in PlanAheadActivity]: { activity: K; input: Parameters<SqlActivities[K]>[0] };
}[PlanAheadActivity];
export type PlanAheadOutcome = Awaited<ReturnType<SqlActivities[PlanAheadActivity]>>;

export interface OpenBreakGlassProcedureInput<K extends BreakGlassRunbookName> {
  runbook: K;
  /** The procedure's plan, when it is the first thing the procedure does. */
  plan?: PlanAhead;
  /** The change-freeze check before the gate (asked without an override: a crossing is recorded later, if reached). */
  changeFreeze?: CheckChangeFreezeInput;
}

export interface OpenedBreakGlassProcedure<K extends BreakGlassRunbookName> {
  policy: RunbookPolicySnapshot<K>;
  /** Present when asked and the policy serves the runbook. */
  plan?: Inline<PlanAheadOutcome>;
  changeFreeze?: Inline<FreezeCheck>;
}

/**
 * A break-glass procedure's opening in one round trip: the policy section, and the reads the run
 * would otherwise make each in its own activity before its gate (its plan, the change freezes).
 * Each read is tried once; a failed one is done again by the workflow in its own step, under the
 * fail-safe. Both are reads, so a result the run does not use (a plan it refuses before reaching,
 * say) changed nothing.
 */
export function createBreakGlassActivities(deps: {
  loadRunbookPolicy: ReturnType<typeof createPolicyActivities>['loadRunbookPolicy'];
  sql: Pick<SqlActivities, PlanAheadActivity | 'checkChangeFreeze'>;
}) {
  const { loadRunbookPolicy, sql } = deps;
  const planAhead = (ask: PlanAhead): Promise<PlanAheadOutcome> =>
    ask.activity === 'planRestore' ? sql.planRestore(ask.input) : sql.planRebootstrap(ask.input);
  return {
    openBreakGlassProcedure: async <K extends BreakGlassRunbookName>(
      input: OpenBreakGlassProcedureInput<K>,
    ): Promise<OpenedBreakGlassProcedure<K>> => {
      const policy = await loadRunbookPolicy({ runbook: input.runbook });
      if (policy.unserved !== undefined) return { policy };
      const { plan: planAsk, changeFreeze: freezeAsk } = input;
      const [plan, changeFreeze] = await Promise.all([
        planAsk && tryInline(() => planAhead(planAsk)),
        freezeAsk && tryInline(() => sql.checkChangeFreeze(freezeAsk)),
      ]);
      return { policy, ...(plan ? { plan } : {}), ...(changeFreeze ? { changeFreeze } : {}) };
    },
  };
}
