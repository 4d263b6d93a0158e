import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { RUNBOOK_METRICS, type MetricSpec } from '../../src/common/metrics';
import { REPO_ROOT } from '../../src/local/paths';
import { promtoolTestRules } from '../fixtures/promtool';

/**
 * The dashboard's counter and histogram panels under Prometheus's own evaluator (`promtool test
 * rules`, promql_expr_test), with each series in the shape the worker gives it: the SDK core
 * exports a series from its first increment (a new worker — a new `instance` — shows it at 1, not
 * 0 then 1), or at 0 from the start for the alerted counters. Before 0.20.0 every such panel took
 * `increase()` or `rate()` alone and showed nothing for the first event of each kind after a
 * worker's start: the first run to enter needs_human, the first refusal, the first gate wait.
 */

const DASHBOARD = path.join(REPO_ROOT, 'ops', 'grafana', 'durable-runbooks.json');

/** The labels of the SDK core's counters the dashboard reads (ours are in RUNBOOK_METRICS). */
const SDK_COUNTER_LABELS: Record<string, readonly string[]> = {
  temporal_workflow_task_execution_failed: ['workflow_type', 'failure_reason'],
};

/** The upper bound of the one bucket the test's observation falls in (and the +Inf bucket). */
const BUCKET = 60;

interface PanelExpr {
  title: string;
  expr: string;
}

function panelExprs(dashboard: string): PanelExpr[] {
  const { panels } = JSON.parse(dashboard) as { panels: { title: string; targets?: { expr?: string }[] }[] };
  return panels.flatMap((panel) =>
    (panel.targets ?? []).flatMap((target) =>
      target.expr ? [{ title: panel.title, expr: target.expr }] : [],
    ),
  );
}

/** The labels a series of `name` carries (a histogram's bucket: its spec's, and `le`). */
function labelsOf(name: string): readonly string[] {
  if (SDK_COUNTER_LABELS[name]) return SDK_COUNTER_LABELS[name];
  const base = name.replace(/_bucket$/, '');
  const spec = (Object.values(RUNBOOK_METRICS) as MetricSpec[]).find((s) => s.name === base);
  assert.ok(spec, `${name}: not a metric the worker exports`);
  return spec.labels;
}

/** The series a panel's one metric has in the test, and what the panel must show at 10 min. */
function caseFor(panel: PanelExpr, values: string): Record<string, unknown> {
  const names = [
    ...new Set([...panel.expr.matchAll(/\b((?:runbooks|temporal)_[a-z0-9_]+)/g)].map((m) => m[1]!)),
  ];
  assert.equal(names.length, 1, `${panel.title}: one metric per expression`);
  const name = names[0]!;
  const labels: Record<string, string> = Object.fromEntries([
    ...labelsOf(name).map((label): [string, string] => [label, 'x']),
    ['instance', 'w1'],
  ]);
  const series = (extra: Record<string, string>): { series: string; values: string } => ({
    series: `${name}{${Object.entries({ ...labels, ...extra })
      .map(([key, value]) => `${key}="${value}"`)
      .join(',')}}`,
    values,
  });
  const input_series = name.endsWith('_bucket')
    ? [series({ le: String(BUCKET) }), series({ le: '+Inf' })]
    : [series({})];
  const by =
    /sum by \(([^)]*)\)/
      .exec(panel.expr)?.[1]
      ?.split(',')
      .map((label) => label.trim()) ?? [];
  const shown = Object.fromEntries(
    by.filter((label) => label !== 'le').map((label) => [label, labels[label]]),
  );
  const quantile = /^histogram_quantile\(([0-9.]+),/.exec(panel.expr)?.[1];
  return {
    interval: '1m',
    input_series,
    promql_expr_test: [
      {
        expr: panel.expr,
        eval_time: '10m',
        exp_samples: [
          {
            labels: `{${Object.entries(shown)
              .map(([key, value]) => `${key}="${value}"`)
              .join(',')}}`,
            // One event: counted once; one observation in the (0, 60] bucket: its quantile.
            value: quantile ? Number(quantile) * BUCKET : 1,
          },
        ],
      },
    ],
  };
}

/** promtool's verdict on every counter and histogram panel of `dashboard`, over both series shapes. */
async function evaluatePanels(
  dashboard: string,
): Promise<{ passed: boolean; output: string; panels: number }> {
  const counted = panelExprs(dashboard).filter((panel) => /\b(increase|rate)\(/.test(panel.expr));
  const tests = counted.flatMap((panel) => [
    // A new worker (a new instance label): the series appears at its first event, at 1.
    caseFor(panel, '_x5 1x10'),
    // Exported at 0 from the worker's start, then the first event.
    caseFor(panel, '0x5 1x10'),
  ]);
  const dir = mkdtempSync(path.join(tmpdir(), 'runbooks-dashboard-'));
  try {
    writeFileSync(path.join(dir, 'rules.yml'), 'groups: []\n');
    writeFileSync(
      path.join(dir, 'panels.test.yml'),
      JSON.stringify({ rule_files: ['rules.yml'], evaluation_interval: '1m', tests }),
    );
    return { ...(await promtoolTestRules(dir, 'panels.test.yml')), panels: counted.length };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('dashboard panels under promtool', () => {
  test('every counter and histogram panel shows the first event after a worker’s start', async () => {
    const { passed, output, panels } = await evaluatePanels(readFileSync(DASHBOARD, 'utf8'));
    assert.ok(panels >= 10, `${panels} counter and histogram panels`);
    assert.ok(passed, output);
  });

  test('the check can fail: increase() and rate() alone (before 0.20.0) show nothing for it', async () => {
    const dashboard = readFileSync(DASHBOARD, 'utf8');
    const alone = dashboard.replace(
      /\(([a-z0-9_]+) unless \1 offset ([0-9]+[smhd])\) or increase\(\1\[\2\]\)/g,
      'increase($1[$2])',
    );
    assert.notEqual(alone, dashboard);
    const { passed, output } = await evaluatePanels(alone);
    assert.equal(passed, false, output);
    for (const expr of [
      'runbooks_needs_human_total',
      'runbooks_gate_wait_seconds_bucket',
      'temporal_workflow_task_execution_failed',
    ])
      assert.match(output, new RegExp(`expr: ".*${expr}`), `${expr} not caught:\n${output.slice(0, 2000)}`);
  });
});
