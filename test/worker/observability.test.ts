import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { describe, test } from 'node:test';
import { RUNBOOK_METRICS, type MetricSpec } from '../../src/common/metrics';
import { REPO_ROOT } from '../../src/local/paths';
import { COMMANDS } from '../../src/cli/registry';
import { OPTIONS } from '../../src/cli/args';
import * as workflows from '../../src/workflows';

const DASHBOARD = path.join(REPO_ROOT, 'ops', 'grafana', 'durable-runbooks.json');
const ALERT_RULES = path.join(REPO_ROOT, 'ops', 'prometheus', 'runbooks-alerts.yml');

/**
 * The SDK core's metrics (temporal_*) the dashboard and the rules read: the worker process serves
 * them on the same endpoint, and the metrics e2e (test/e2e/break-glass-restore.e2e.test.ts) sees
 * each there with the labels read.
 */
const SDK_METRICS_READ = ['temporal_workflow_task_execution_failed'];

/** Every series name the worker exports that we read (a histogram's as Prometheus spells them). */
function exportedNames(): Set<string> {
  const names = new Set<string>(SDK_METRICS_READ);
  for (const spec of Object.values(RUNBOOK_METRICS) as MetricSpec[]) {
    if (spec.kind === 'histogram')
      for (const suffix of ['_bucket', '_sum', '_count']) names.add(spec.name + suffix);
    else names.add(spec.name);
  }
  return names;
}

/** The metric names an expression reads (ours are all runbooks_*, the SDK's temporal_*). */
function namesIn(expr: string): string[] {
  return [...expr.matchAll(/\b((?:runbooks|temporal)_[a-z0-9_]+)/g)].map((match) => match[1]!);
}

function unknownNames(exprs: string[]): string[] {
  const exported = exportedNames();
  return exprs.flatMap(namesIn).filter((name) => !exported.has(name));
}

interface DashboardPanel {
  title: string;
  targets?: { expr?: string }[];
}

describe('observability artefacts', () => {
  test('the Grafana dashboard is valid JSON and reads only metrics the worker exports', () => {
    const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as {
      uid: string;
      panels: DashboardPanel[];
    };
    assert.equal(dashboard.uid, 'durable-runbooks');
    assert.ok(dashboard.panels.length >= 10);
    const exprs: string[] = [];
    for (const panel of dashboard.panels) {
      const panelExprs = (panel.targets ?? []).map((target) => target.expr ?? '');
      assert.ok(panelExprs.length > 0 && panelExprs.every((expr) => namesIn(expr).length > 0), panel.title);
      exprs.push(...panelExprs);
    }
    assert.deepEqual(unknownNames(exprs), []);
    // Every metric we export has a panel.
    const used = new Set(exprs.flatMap(namesIn).map((name) => name.replace(/_(bucket|sum|count)$/, '')));
    const missing = (Object.values(RUNBOOK_METRICS) as MetricSpec[]).filter((spec) => !used.has(spec.name));
    assert.deepEqual(
      missing.map((spec) => spec.name),
      [],
    );
  });

  test('the alert rules read only exported metrics, and cover a run waiting for a human and every way a drill goes wrong', () => {
    const rules = readFileSync(ALERT_RULES, 'utf8');
    const exprs = [...rules.matchAll(/^\s+expr:\s*(.+)$/gm)].map((match) => match[1]!);
    const alerts = [...rules.matchAll(/^\s+- alert:\s*(\S+)$/gm)].map((match) => match[1]!);
    assert.equal(exprs.length, alerts.length, 'one expr per alert');
    assert.deepEqual(unknownNames(exprs), []);
    assert.ok(alerts.includes('RunbookWaitingForHuman') && alerts.includes('RunbookDrillOverSlo'));
    assert.ok(exprs.some((expr) => expr.includes(RUNBOOK_METRICS.oldestOverdueHumanWaitSeconds.name)));
    assert.ok(exprs.some((expr) => expr.includes(RUNBOOK_METRICS.drillOverSlo.name)));
    // A drill that does not complete has no SLO verdict, and one that never runs none either.
    const ruleOf = (alert: string): string => exprs[alerts.indexOf(alert)] ?? '';
    assert.match(
      ruleOf('RunbookDrillNotCompleted'),
      new RegExp(
        `sum by \\(runbook, outcome\\) \\(increase\\(${RUNBOOK_METRICS.drillNotCompleted.name}\\[1d\\]\\)\\) > 0`,
      ),
    );
    assert.match(
      ruleOf('RunbookDrillScheduleInactive'),
      new RegExp(`${RUNBOOK_METRICS.drillScheduleActive.name}\\) == 0`),
    );
  });

  test('every CLI command an alert tells the on-call to run exists (it said `npm run cli -- runs`, which does not)', () => {
    const rules = readFileSync(ALERT_RULES, 'utf8');
    const named = [...rules.matchAll(/npm run cli -- ([a-z-]+)/g)].map((match) => match[1]!);
    // "… or schedule-rollback-drill": the second command of a line is written without the prefix.
    named.push(...[...rules.matchAll(/\bor (schedule-[a-z-]+)/g)].map((match) => match[1]!));
    assert.ok(named.length >= 4, named.join(', '));
    const commands = new Set(COMMANDS.map((command) => command.name));
    assert.deepEqual(
      named.filter((name) => !commands.has(name)),
      [],
    );
  });

  test('every CLI command line an alert tells the on-call to run passes the CLI’s validation, for every runbook its label can name', () => {
    const rules = readFileSync(ALERT_RULES, 'utf8');
    const lines = [...rules.matchAll(/npm run cli -- ([^;(),'`]+)/g)].map((match) => match[1]!.trim());
    assert.ok(lines.length >= 8, lines.join('\n'));
    // The placeholders, as the on-call fills them in; a label's value, each it can take.
    const filled = (line: string, runbook: string): string[] =>
      line
        .replaceAll('{{ $labels.runbook }}', runbook)
        .replaceAll('<id>', 'INC-1')
        .replace(/<@[a-z]+>/g, '@oncall')
        .replace(/--decision [a-z_|]+/, '--decision waiver')
        .replace('"..."', 'because')
        .replace(/\bor [a-z-]+$/, '')
        .split(/\s+/)
        .filter((word) => word !== '');
    const refused: string[] = [];
    for (const line of lines)
      // A runbook label is a workflow type the task queue serves: each of them.
      for (const runbook of line.includes('{{ $labels.runbook }}') ? Object.keys(workflows) : ['-']) {
        const argv = filled(line, runbook);
        try {
          const { values, positionals } = parseArgs({
            args: argv,
            options: OPTIONS,
            allowPositionals: true,
            strict: true,
          });
          const command = COMMANDS.find((candidate) => candidate.name === positionals[0]);
          if (!command) throw new Error(`no command "${positionals[0]}"`);
          command.prepare(values, positionals.slice(1));
        } catch (error) {
          refused.push(`${argv.join(' ')}: ${(error as Error).message}`);
        }
      }
    assert.deepEqual(refused, []);
  });

  test('the drill metrics say which runbook was drilled, and the over-SLO alert names it', () => {
    for (const spec of [
      RUNBOOK_METRICS.drillSeconds,
      RUNBOOK_METRICS.drillSloSeconds,
      RUNBOOK_METRICS.drillOverSlo,
    ])
      assert.ok((spec.labels as readonly string[]).includes('runbook'), spec.name);
    const rules = readFileSync(ALERT_RULES, 'utf8');
    assert.match(
      rules,
      /sum by \(runbook, verdict\) \(increase\(runbooks_drill_over_slo_total\[1d\]\)\) > 0/,
    );
  });

  test('the check can fail: a misspelt or wrongly suffixed name is reported', () => {
    assert.deepEqual(
      unknownNames([
        'sum(runbooks_open_run)',
        'rate(runbooks_notices_total_bucket[5m])',
        'increase(temporal_workflow_task_failed[15m])',
      ]),
      ['runbooks_open_run', 'runbooks_notices_total_bucket', 'temporal_workflow_task_failed'],
    );
  });
});
