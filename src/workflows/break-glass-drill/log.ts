import { formatDuration } from '../../common/duration';
import type { RunRecord } from '../shared/run-record';
import type { BreakGlassDrillDetail } from './definitions';

/** The drill log of seed 000's drill template: scenario, per-step wall clock, surprises. */
export function renderDrillLog(
  record: RunRecord<BreakGlassDrillDetail>,
  policy: { sentinelRowId: number; versionsBack: number; slo: number; tightenAbove: number },
  end: { outcome: string; message: string },
): string {
  const detail = record.status.detail;
  const stamp = detail.detectedAt;
  const steps = record
    .stepDurations()
    .filter((step) => step.name !== 'write_drill_log' && step.name !== 'done');
  const rows = steps.map(
    (step) =>
      `| ${step.name} | ${step.startedAt} | ${step.endedAt ?? '—'} | ${step.durationMs !== undefined ? formatDuration(step.durationMs) : '—'} |`,
  );
  const surprises = [
    ...(detail.sentinelCreated
      ? [`the sentinel row id=${policy.sentinelRowId} did not exist on staging and was created`]
      : []),
    ...record.status.refusedAttempts.map(
      (a) => `refused ${a.signal} by ${a.by ?? '?'}: ${a.reason} (${a.detail})`,
    ),
    ...record.status.flags.map((f) => `${f.code}: ${f.message}`),
    ...record.status.notices
      .filter((n) => n.state === 'failed' || n.state === 'partial')
      .map(
        (n) =>
          `notice "${n.kind}" ${n.state}: ${n.deliveries
            .filter((d) => d.state === 'failed')
            .map((d) => `${d.channel}: ${d.error ?? ''}`)
            .join('; ')}`,
      ),
    ...(end.outcome === 'drill_not_completed' ? [`the drill did not complete: ${end.message}`] : []),
  ];
  return [
    `# Break-glass drill — ${stamp.slice(0, 10)}`,
    '',
    `**Scenario** : Procedure A — restore from a ${policy.versionsBack}-version-back snapshot against the staging copy (sentinel ftf_config id=${policy.sentinelRowId})`,
    `**Drill** : ${detail.drillIncidentId} · workflow ${record.status.workflowId} · requested by ${detail.requestedBy}`,
    `**Target** : ${detail.target ? `ftf_config_history.id=${detail.target.id} (version ${detail.target.version}, ${detail.target.changedBy} at ${detail.target.changedAt})` : 'not reached'}`,
    `**Approver** : ${detail.approval ? `${detail.approval.approver} at ${detail.approval.approvedAt}` : 'none'}`,
    `**Outcome** : ${end.outcome} — ${end.message}`,
    `**SLO** : detected → restore verified < ${formatDuration(policy.slo)}; over ${formatDuration(policy.tightenAbove)} the runbook needs tightening`,
    '',
    '## Wall clock per step',
    '',
    '| step | start (UTC) | end (UTC) | duration |',
    '| --- | --- | --- | --- |',
    ...rows,
    '',
    '## Surprises',
    '',
    ...(surprises.length ? surprises.map((s) => `- ${s}`) : ['- none']),
  ].join('\n');
}
