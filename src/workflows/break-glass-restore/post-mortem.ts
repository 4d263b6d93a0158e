import type { SqlStatement } from '../../activities';
import type { StepRecord } from '../shared/run-record';
import type { ApprovalRecord, ReconciliationRecord, RestoreCommitted } from './definitions';
import type { RestoreVerification } from '../../activities';

/**
 * Seed 000's post-mortem entry template, filled from the run's own record. What only a human can
 * say (what broke, follow-ups, ADR-90 impact) is left as marked placeholders.
 */
export interface PostMortemFacts {
  incidentId: string;
  workflowId: string;
  runId: string;
  rationale: string;
  targetHistoryId: number;
  approval: ApprovalRecord;
  execution: RestoreCommitted;
  verification?: RestoreVerification;
  reconciliation?: ReconciliationRecord;
  steps: StepRecord[];
  postMortemTarget: string;
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

export function renderPostMortem(facts: PostMortemFacts): string {
  const { execution, verification } = facts;
  const stepLines = facts.steps.map(
    (step) =>
      `- ${step.name}: ${step.startedAt} → ${step.endedAt ?? '(in progress)'}${
        step.durationMs !== undefined ? ` (${Math.round(step.durationMs / 1000)} s)` : ''
      }`,
  );
  const verificationLines = verification
    ? [
        `- Live row: ${verification.liveRow.ok ? 'OK' : `NOT OK (${verification.liveRow.problems.join('; ')})`} — version ${verification.liveRow.version}`,
        `- Break-glass history row: ${verification.historyRow.ok ? 'OK' : `NOT OK (${verification.historyRow.problems.join('; ')})`}`,
        `- Canonical payload comparison: NEW ${verification.canonical.new} / EQUAL ${verification.canonical.equal} / CONFLICT ${verification.canonical.conflict}` +
          (verification.canonical.conflict > 0 ? ' — CONFLICT > 0 flagged to the IC' : ''),
      ]
    : ['- Verification: not run'];
  return [
    `## Break-glass post-mortem — incident ${facts.incidentId}`,
    '',
    `**When** : ${execution.committedAt}`,
    '**Procedure** : A (per `documentation/runbooks/break-glass-hyperparams.md`)',
    `**Approver** : ${facts.approval.approver}`,
    `**Rationale** : ${facts.rationale}`,
    '',
    '### Evidence trail',
    `- Approval message : \`${facts.approval.line}\` (recorded by Temporal workflow ${facts.workflowId}, run ${facts.runId})`,
    '- SQL executed :',
    '```sql',
    renderStatements(execution.statements),
    '```',
    `- ftf_config_history.id created : ${execution.historyId} (restored from id=${facts.targetHistoryId}; live version now ${execution.liveVersion}; ledger ${execution.ledgerKey})`,
    `- Reconciling Console write : ${reconciliationLine(facts.reconciliation)}`,
    '',
    '### What broke / what worked',
    ...verificationLines,
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
    `_File as a comment on ${facts.postMortemTarget} within 24 h of ${execution.committedAt}, then send \`postMortemFiled\` {"by","link"}._`,
  ].join('\n');
}
