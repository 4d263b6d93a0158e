import type { CommittedWrite, SqlStatement } from '../../../activities';
import type { StepRecord } from '../run-record';
import type { ApprovalRecord, ConsoleRecoveryRecord, ReconciliationRecord } from './definitions';

/**
 * Seed 000's post-mortem entry template, filled from the run's own record. What only a human can
 * say (what broke, follow-ups, ADR-90 impact) is left as marked placeholders.
 */
export interface PostMortemFacts {
  procedure: 'A' | 'B' | 'D';
  incidentId: string;
  workflowId: string;
  runId: string;
  rationale: string;
  approval: ApprovalRecord;
  write: CommittedWrite;
  /** One line: what the SQL changed. */
  whatChanged: string;
  verificationLines: string[];
  consoleRecovery?: ConsoleRecoveryRecord;
  reconciliation?: ReconciliationRecord;
  steps: StepRecord[];
  postMortemTarget: string;
  /** The run's policy was test-only (durations below the seed's): said at the top. */
  testOnly?: boolean;
}

function renderParam(value: SqlStatement['params'][number]): string {
  return typeof value === 'number' ? String(value) : `'${value.replace(/'/g, "''")}'`;
}

export function renderStatements(statements: SqlStatement[]): string {
  return statements
    .map((statement, index) => {
      const params = statement.params.map((value, i) => `$${i + 1} = ${renderParam(value)}`).join(', ');
      return `-- ${index + 1}. ${statement.label}${params ? ` (bound: ${params})` : ''}\n${statement.sql};`;
    })
    .join('\n\n');
}

function reconciliationLine(reconciliation: ReconciliationRecord | undefined): string {
  if (!reconciliation) return 'not started';
  const write = reconciliation.write;
  switch (reconciliation.state) {
    case 'found_in_time':
      return `ftf_config_history.id=${write?.id} by ${write?.changedBy} at ${write?.changedAt} (in time; due ${reconciliation.dueAt})`;
    case 'late':
      return `ftf_config_history.id=${write?.id} by ${write?.changedBy} at ${write?.changedAt} — LATE (due ${reconciliation.dueAt})`;
    case 'missed':
      return `MISSED — no write with change_reason='break-glass-<incident>' by ${reconciliation.dueAt}`;
    case 'pending':
      return `pending — due by ${reconciliation.dueAt}`;
  }
}

function consoleLine(recovery: ConsoleRecoveryRecord | undefined): string[] {
  if (!recovery) return [];
  const text =
    recovery.state === 'recovered'
      ? `back up at ${recovery.recoveredAt} (${recovery.probes} probes)`
      : recovery.state === 'waiting'
        ? `still down (${recovery.probes} probes; must be back by ${recovery.dueAt})`
        : `NOT back by ${recovery.dueAt} (${recovery.probes} probes) — escalated`;
  return [`- Console recovery : ${text}`];
}

export function renderPostMortem(facts: PostMortemFacts): string {
  const { write } = facts;
  const stepLines = facts.steps.map(
    (step) =>
      `- ${step.name}: ${step.startedAt} → ${step.endedAt ?? '(in progress)'}${
        step.durationMs !== undefined ? ` (${Math.round(step.durationMs / 1000)} s)` : ''
      }`,
  );
  return [
    `## Break-glass post-mortem — incident ${facts.incidentId}`,
    '',
    ...(facts.testOnly
      ? [
          "**TEST-ONLY POLICY** : this run's durations were below the seed's (a test, not a real incident)",
          '',
        ]
      : []),
    `**When** : ${write.committedAt}`,
    `**Procedure** : ${facts.procedure} (per \`documentation/runbooks/break-glass-hyperparams.md\`)`,
    `**Approver** : ${facts.approval.approver}`,
    `**Rationale** : ${facts.rationale}`,
    '',
    '### Evidence trail',
    `- Approval message : \`${facts.approval.line}\` (recorded by Temporal workflow ${facts.workflowId}, run ${facts.runId})`,
    '- SQL executed :',
    '```sql',
    renderStatements(write.statements),
    '```',
    `- ftf_config_history.id created : ${write.historyId} (${facts.whatChanged}; live version now ${write.liveVersion}; ledger ${write.ledgerKey})`,
    ...consoleLine(facts.consoleRecovery),
    `- Reconciling Console write : ${reconciliationLine(facts.reconciliation)}`,
    '',
    '### What broke / what worked',
    ...facts.verificationLines,
    'Per-step UTC times:',
    ...stepLines,
    '- <fact, no judgement: what broke>',
    '',
    '### Follow-ups',
    '- <action 1 — e.g., "file a Story to fix the Console UI bug that necessitated this">',
    '- <next operator response: Console UI fix, follow-up Story, ADR addendum>',
    '',
    '### ADR-90 transition window impact',
    'Is this incident a signal that we need to **accelerate Epic CCP wp#149 delivery** ? <yes/no, brief justification>.',
    '',
    `_File as a comment on ${facts.postMortemTarget} within 24 h of ${write.committedAt}, then send \`postMortemFiled\` {"by","link"}._`,
  ].join('\n');
}
