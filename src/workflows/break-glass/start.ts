import { proxyActivities, setHandler } from '@temporalio/workflow';
import type { RunbookActivities, RunbookPolicySnapshot } from '../../activities';
import { normalizeHandle } from '../../common/identity';
import type { BreakGlassRunbookName } from '../../common/policy';
import { policyRead } from '../activity-options';
import { RunControls } from '../shared/gates';
import { statusQuery } from '../shared/messages';
import { Notices } from '../shared/notices';
import { RunRecord } from '../shared/run-record';
import { committedWrite, type BreakGlassDetail, type BreakGlassResultBase } from './definitions';
import { ObligationSignals } from './obligations';

const { loadRunbookPolicy } = proxyActivities<RunbookActivities>(policyRead);

/**
 * The opening every break-glass workflow shares: the run record (search attributes, memo, status
 * query), notices, the gate's signal handlers and the obligation signals, all installed before the
 * first await so no early signal is lost; then the policy, read through an activity.
 */
export function beginBreakGlass<Detail extends BreakGlassDetail<unknown, unknown, unknown>>(args: {
  runbook: BreakGlassRunbookName;
  incidentId: string;
  requestedBy: string;
  detail: Omit<Detail, 'requestedBy'>;
  memo: string;
}) {
  const requestedBy = `@${normalizeHandle(args.requestedBy)}`;
  const record = new RunRecord<Detail>(args.runbook, args.incidentId, {
    ...args.detail,
    requestedBy,
  } as Detail);
  setHandler(statusQuery, () => record.status);
  const notices = new Notices(record);
  const controls = new RunControls(record, notices, requestedBy);
  record.setMemoSummary(args.memo);
  const signals = new ObligationSignals(record);
  return { requestedBy, record, notices, controls, signals };
}

export async function loadPolicy<K extends BreakGlassRunbookName>(
  runbook: K,
  parts: { record: RunRecord<unknown>; controls: RunControls; notices: Notices },
): Promise<RunbookPolicySnapshot<K>> {
  parts.record.enterStep('load_policy', 'reading the worker policy');
  const snapshot = await loadRunbookPolicy({ runbook });
  parts.controls.configure({
    approvers: snapshot.runbook.approvers,
    soleOperator: snapshot.runbook.soleOperator,
  });
  parts.notices.configure(snapshot.notifications);
  return snapshot;
}

/** The result fields every break-glass procedure returns, from its record. */
export function resultBase<Plan, Execution, Verification>(
  record: RunRecord<BreakGlassDetail<Plan, Execution, Verification>>,
  incidentId: string,
  outcome: string,
  message: string,
): BreakGlassResultBase<Plan, Execution, Verification> {
  const detail = record.status.detail;
  const write = committedWrite(detail.execution);
  return {
    outcome,
    conforming: record.status.nonConformities.length === 0,
    message,
    incidentId,
    workflowId: record.status.workflowId,
    runId: record.status.runId,
    requestedBy: detail.requestedBy,
    ...(detail.plan !== undefined ? { plan: detail.plan } : {}),
    ...(detail.approval ? { approval: detail.approval } : {}),
    ...(detail.execution !== undefined ? { execution: detail.execution } : {}),
    ...(detail.verification !== undefined ? { verification: detail.verification } : {}),
    ...(detail.consoleRecovery ? { consoleRecovery: detail.consoleRecovery } : {}),
    ...(detail.reconciliation ? { reconciliation: detail.reconciliation } : {}),
    ...(detail.postMortem ? { postMortem: detail.postMortem } : {}),
    idsCreated: { historyRowIds: write ? [write.historyId] : [], ledgerKeys: write ? [write.ledgerKey] : [] },
    steps: record.stepDurations(),
    deadlines: record.status.deadlines,
    refusedAttempts: record.status.refusedAttempts,
    nonConformities: record.status.nonConformities,
    flags: record.status.flags,
    notices: record.status.notices,
  };
}
