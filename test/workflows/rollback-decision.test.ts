import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { decide } from '../../src/workflows/rollback-to-pilot/decision';
import { defaultPolicy } from '../fixtures/policy';

/**
 * RB-LAUNCH-002's decision framework as a pure function (no server): with the declared severity
 * counted (runs since rollback-decision-severity-v1), and as runs recorded before it decided.
 */

const thresholds = defaultPolicy().policy.runbooks.rollbackToPilot.decision;
const TEN = Array.from({ length: 10 }, (_, i) => `repo-${i}`);

describe('rollback decision: the declared severity', () => {
  test('a P1 with 10 failing repos reported goes at once (it used to wait for a 30-min P2 triage)', () => {
    const facts = { failingRepos: TEN };
    const declared = decide({ severity: 'P1', facts, thresholds, severityCounts: true });
    assert.equal(declared.verdict, 'go');
    assert.equal(declared.level, 'P1');
    assert.match(declared.reasons[0]!, /declared P1 .* corroborated: cascading failures: 10 repos/);
    assert.equal(decide({ severity: 'P1', facts, thresholds }).verdict, 'triage');
  });

  test('a P1 with 10 failing repos in the metrics: go, not triage', () => {
    const metrics = {
      window: '30m',
      failuresByRepo: Object.fromEntries(TEN.map((repo) => [repo, 4])),
      failingRepos: TEN,
      failureRate: 0.2,
      queries: [],
      evaluatedAt: '2026-12-02T00:00:00Z',
    };
    assert.equal(
      decide({ severity: 'P1', facts: {}, metrics, thresholds, severityCounts: true }).verdict,
      'go',
    );
    assert.equal(decide({ severity: 'P1', facts: {}, metrics, thresholds }).verdict, 'triage');
  });

  test('a P2 with the same repos is still triaged: the IC confirms after 30 min', () => {
    const decision = decide({
      severity: 'P2',
      facts: { failingRepos: TEN },
      thresholds,
      severityCounts: true,
    });
    assert.equal(decision.verdict, 'triage');
  });

  test('a P4 with a security breach is not rolled back: the severity must be re-declared', () => {
    const decision = decide({
      severity: 'P4',
      facts: { securityBreach: true },
      thresholds,
      severityCounts: true,
    });
    assert.equal(decision.verdict, 'no_go');
    assert.match(decision.reasons[0]!, /declared P4, but a P1 condition holds: security breach/);
    assert.match(decision.alternative!, /re-declare the incident as P1/);
    assert.equal(decide({ severity: 'P4', facts: { securityBreach: true }, thresholds }).verdict, 'go');
  });

  test('a declared P1 with a single failing repo is still refused: isolate it', () => {
    const decision = decide({
      severity: 'P1',
      facts: { failingRepos: ['repo-0'] },
      thresholds,
      severityCounts: true,
    });
    assert.equal(decision.verdict, 'no_go');
    assert.match(decision.alternative!, /isolate the repo/);
  });
});
