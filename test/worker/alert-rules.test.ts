import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { REPO_ROOT } from '../../src/local/paths';
import { promtoolTestRules } from '../fixtures/promtool';

/**
 * The alert rules run through Prometheus's own rule evaluator: `promtool test rules` with the
 * series in ops/prometheus/runbooks-alerts.test.yml (each alert fires when it should, with the
 * labels and text the on-call reads, and not before).
 */

const RULES_DIR = path.join(REPO_ROOT, 'ops', 'prometheus');
const RULES = 'runbooks-alerts.yml';
const RULE_TESTS = 'runbooks-alerts.test.yml';

describe('alert rules under promtool', () => {
  test('every alert fires on its series at its time, with its labels and text, and not before', async () => {
    const { passed, output } = await promtoolTestRules(RULES_DIR, RULE_TESTS);
    assert.ok(passed, output);
    assert.match(output, /SUCCESS/);
  });

  test('every alert has a case in the rule tests', () => {
    const alerts = [
      ...readFileSync(path.join(RULES_DIR, RULES), 'utf8').matchAll(/^\s+- alert:\s*(\S+)$/gm),
    ].map((match) => match[1]!);
    const tested = readFileSync(path.join(RULES_DIR, RULE_TESTS), 'utf8');
    const untested = alerts.filter((alert) => !new RegExp(`alertname: ${alert}$`, 'm').test(tested));
    assert.deepEqual(untested, []);
    assert.ok(alerts.includes('RunbookMetricsAbsent') && alerts.includes('RunbookGaugesStale'));
  });

  test('the rule tests can fail: an alert that pages late, or never, or not on a new series, is caught', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'runbooks-alerts-'));
    try {
      copyFileSync(path.join(RULES_DIR, RULE_TESTS), path.join(dir, RULE_TESTS));
      const rules = readFileSync(path.join(RULES_DIR, RULES), 'utf8');
      const broken = rules
        // Pages an hour late.
        .replace(
          'runbooks_oldest_overdue_human_wait_seconds) > 4 * 3600',
          'runbooks_oldest_overdue_human_wait_seconds) > 5 * 3600',
        )
        // One replica still reading hides the one that stopped.
        .replace(
          'time() - runbooks_open_run_gauges_last_read_timestamp_seconds',
          'time() - max(runbooks_open_run_gauges_last_read_timestamp_seconds)',
        )
        // Without absent(): no series, no alert.
        .replace(
          'absent(runbooks_open_run_gauges_last_read_timestamp_seconds)',
          'runbooks_open_run_gauges_last_read_timestamp_seconds < 0',
        )
        // increase() alone: a series that first appears at 1 (an outcome not exported at 0) shows none.
        .replace(/ or sum by \(runbook, outcome\) \(runbooks_drill_not_completed_total unless .*$/m, '');
      assert.notEqual(broken, rules);
      writeFileSync(path.join(dir, RULES), broken);
      const { passed, output } = await promtoolTestRules(dir, RULE_TESTS);
      assert.equal(passed, false, output);
      for (const alert of [
        'RunbookWaitingForHuman',
        'RunbookGaugesStale',
        'RunbookMetricsAbsent',
        'RunbookDrillNotCompleted',
      ])
        assert.match(output, new RegExp(`alertname: ${alert},`), `${alert} not caught:\n${output}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('RunbookWaitingForHuman on the whole wait (before 0.20.0) is caught: it fires 5 h into a post-mortem window', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'runbooks-alerts-'));
    try {
      copyFileSync(path.join(RULES_DIR, RULE_TESTS), path.join(dir, RULE_TESTS));
      const rules = readFileSync(path.join(RULES_DIR, RULES), 'utf8');
      const whole = rules.replace(
        'max by (runbook) (runbooks_oldest_overdue_human_wait_seconds) > 4 * 3600',
        'max by (runbook) (runbooks_oldest_human_wait_seconds) > 4 * 3600',
      );
      assert.notEqual(whole, rules);
      writeFileSync(path.join(dir, RULES), whole);
      const { passed, output } = await promtoolTestRules(dir, RULE_TESTS);
      assert.equal(passed, false, output);
      assert.match(output, /alertname: RunbookWaitingForHuman, time: 1h,/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
