import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { scratchDir } from '../../src/local/servers';
import type { LoadedPolicy } from '../../src/worker/policy';
import { channelSecrets } from '../fixtures/channels';
import { FaultMatrix, type Scenario } from '../fixtures/fault-matrix';
import { FAULTS, FaultInjector } from '../fixtures/faults';
import { activityDeps, rollbackPolicy } from '../fixtures/policy';
import { workflowSuite } from '../fixtures/suite';
import { backstopScenario } from './fault-matrix/backstop';
import {
  consoleEditScenario,
  drillScenario,
  overwriteRecoveryScenario,
  rebootstrapScenario,
  restoreScenario,
} from './fault-matrix/break-glass';
import { freezeLiftScenario } from './fault-matrix/freeze-lift';
import { incidentScenario } from './fault-matrix/incident';
import { releaseRollbackScenario } from './fault-matrix/release';
import { releaseRollbackSection } from '../fixtures/release';
import {
  reenablementScenario,
  rollbackScenario,
  STAGING_SOAK,
  WRITER_FREEZE,
} from './fault-matrix/orchestrator';
import { matrixPolicy, startMatrixWorld, stopMatrixWorld, type MatrixWorld } from './fault-matrix/world';

/**
 * The fault matrix: for every activity call site of every runbook, the outside world fails in
 * three ways — a non-retryable error, retryable errors until the retry policy gives up, a hang
 * past the activity's timeout — and stays failed until an operator fixes it. See
 * test/fixtures/fault-matrix.ts for what each cell must show; a cell that breaks any of it is a
 * silent failure.
 *
 * Sites are found, not listed: a fault-free run of each runbook records the activity types its
 * own workflow type calls (Procedure C's child is Procedure A, whose sites are A's). Three kinds
 * are left out, on purpose: notice deliveries (a notice that cannot be delivered is recorded and
 * goes to the fallback channel; it never holds a runbook — see the notifications tests), the policy
 * read (the worker's own memory, validated at start; without it there is no pager to page; a
 * backstop program's start, openBackstopProgram, is one, its inline story claim a site of
 * claimStoryProgram; a break-glass procedure's opening, openBreakGlassProcedure, is one, its inline
 * plan and change-freeze check sites of theirs: see test/fixtures/faults.ts), and
 * the change-freeze check outside Procedure A and the rollback (one shared step,
 * workflows/shared/change-freeze.ts, the same code in every mutating runbook: its cells elsewhere
 * repeated these two and cost the matrix's time budget). The release rollback runs with a policy of
 * its own (with the release section the backstop's revert would start it as a child).
 *
 * FAULT_MATRIX_VERBOSE=1 prints each cell as it ends; FAULT_MATRIX_ONLY=<activityType>:<fault>
 * (or <activityType>:then_skip, :then_abort, :then_cancel) runs one cell (after each runbook's fault-free run);
 * FAULT_MATRIX_RUNBOOKS=a,b runs only those; FAULT_MATRIX_SHARD=i/n only the i-th of n sets of rows
 * of like time (npm test runs the matrix as two shards side by side); FAULT_MATRIX_COLUMNS=then_cancel,… runs only those decision
 * columns (and the non-retryable cells they follow).
 */

/**
 * More columns, where a site's failure asks a human: after a non-retryable fault the operator
 * answers `skip` (where the step offers it) or `abort` instead of `retry`. Either way the run must
 * end — completed, never FAILED or stuck, no workflow task failing on the way — with the page
 * resolved and its result saying what the human decided; after an abort, with an outcome that says
 * why, the target in its safe state and nothing done past the failed step (see FaultMatrix.decided).
 * A third column cancels the run from Temporal instead (anyone at the Web UI can, at any wait): it
 * must end CANCELED, announced, safe, with no page that asked it for something left open
 * (FaultMatrix.cancelled).
 */
const DECIDED_AFTER = 'non_retryable' as const;
const DECISIONS = [
  { column: 'then_skip', answer: 'skip' },
  { column: 'then_abort', answer: 'abort' },
  { column: 'then_cancel', answer: 'cancel' },
] as const;
/** Decision cells whose histories are kept for the replay gate (RECORD_HISTORIES=1): one per path 0.15.0 changed. */
const RECORDED_DECISIONS: Record<string, string> = {
  'phasedReenablement enableAlertRule then_abort': 'phased-reenablement-alert-rules-aborted',
  'rollbackToPilot checkChangeFreeze then_abort': 'rollback-to-pilot-freeze-check-aborted',
  'incident liftChangeFreeze then_abort': 'incident-lift-aborted',
};

const FREEZE_CHECKED_IN = ['breakGlassRestore', 'rollbackToPilot'];
/** The policy read, and the two activities that carry it with other steps' work (their sites of their own). */
const POLICY_READS = ['loadRunbookPolicy', 'openBackstopProgram', 'openBreakGlassProcedure'];
const LEFT_OUT = (type: string, runbook: string): boolean =>
  type.startsWith('notify') ||
  POLICY_READS.includes(type) ||
  (type === 'checkChangeFreeze' && !FREEZE_CHECKED_IN.includes(runbook));

/**
 * Seconds each row took in CI164 (a fresh clone, 2 cores), to split the rows into shards of like
 * time; a row not listed counts 30 s.
 */
const ROW_SECONDS: Record<string, number> = {
  rollbackToPilot: 148,
  'rollbackToPilot (writer freeze)': 30,
  phasedReenablement: 126,
  'phasedReenablement (staging soak)': 9,
  breakGlassRestore: 48,
  breakGlassConsoleEdit: 57,
  breakGlassOverwriteRecovery: 6,
  breakGlassRebootstrap: 34,
  breakGlassDrill: 19,
  backstopProgram: 100,
  incident: 24,
  freezeLift: 7,
  'releaseRollback (pin)': 12,
  'releaseRollback (merge revert)': 12,
};

/**
 * The rows this process runs: all of them, or with FAULT_MATRIX_SHARD=<i>/<n> (npm test runs the
 * matrix as two processes side by side) the i-th of n sets of like time, each row given to the
 * set with the least time so far, longest row first.
 */
function matrixShard(rows: string[]): Set<string> {
  const spec = process.env.FAULT_MATRIX_SHARD;
  if (!spec) return new Set(rows);
  const match = /^(\d+)\/(\d+)$/.exec(spec);
  const [index, count] = [Number(match?.[1]), Number(match?.[2])];
  if (!match || index < 1 || index > count)
    throw new Error(`FAULT_MATRIX_SHARD must be <i>/<n> with 1 ≤ i ≤ n, not ${JSON.stringify(spec)}`);
  const seconds = (row: string) => ROW_SECONDS[row] ?? 30;
  const shards = Array.from({ length: count }, () => ({ rows: new Set<string>(), seconds: 0 }));
  for (const row of [...rows].sort((a, b) => seconds(b) - seconds(a) || a.localeCompare(b))) {
    const lightest = shards.reduce((min, next) => (next.seconds < min.seconds ? next : min));
    lightest.rows.add(row);
    lightest.seconds += seconds(row);
  }
  return shards[index - 1]!.rows;
}

const tmp = scratchDir('runbooks-fault-matrix');
const suite = workflowSuite({ server: 'time-skipping', queuePrefix: 'tq-faults' });
const injector = new FaultInjector();
let world: MatrixWorld;
let policy: LoadedPolicy;
/** With the release rollback: only its scenarios (the backstop's revert would start it as a child). */
let releasePolicy: LoadedPolicy;
/** With the rollback's writer freeze (seed 003): only its own sites (the rest are the rollback's row). */
let writerFreezePolicy: LoadedPolicy;
/** With the re-enablement's staging soak (seed 002 §2): only its own sites. */
let stagingSoakPolicy: LoadedPolicy;

before(async () => {
  world = { suite, ...(await startMatrixWorld(tmp)) };
  policy = rollbackPolicy(tmp, world.prometheus.url, (file) => matrixPolicy(world, file));
  releasePolicy = rollbackPolicy(tmp, world.prometheus.url, (file) => {
    matrixPolicy(world, file);
    file.runbooks.releaseRollback = releaseRollbackSection({ deciders: [] });
  });
  writerFreezePolicy = rollbackPolicy(tmp, world.prometheus.url, (file) => {
    matrixPolicy(world, file);
    file.runbooks.rollbackToPilot.writerFreeze = WRITER_FREEZE;
  });
  stagingSoakPolicy = rollbackPolicy(tmp, world.prometheus.url, (file) => {
    matrixPolicy(world, file);
    file.runbooks.phasedReenablement.stagingSoak = STAGING_SOAK;
  });
});
after(() => stopMatrixWorld(world));

describe('fault matrix (time-skipping, shipped durations)', () => {
  /** A row: its scenario, and optionally its own policy and the only sites it fails. */
  type Row = [string, (w: MatrixWorld) => Scenario, { policy: () => LoadedPolicy; sites?: string[] }?];
  const scenarios: Row[] = [
    ['rollbackToPilot', rollbackScenario],
    [
      'rollbackToPilot (writer freeze)',
      (w) => rollbackScenario(w, { writerFreeze: true }),
      { policy: () => writerFreezePolicy, sites: ['freezeWriters', 'unfreezeWriters'] },
    ],
    ['phasedReenablement', reenablementScenario],
    [
      'phasedReenablement (staging soak)',
      (w) => reenablementScenario(w, { failingSoak: true }),
      { policy: () => stagingSoakPolicy, sites: ['startStagingSoak', 'readStagingSoak'] },
    ],
    ['breakGlassRestore', restoreScenario],
    ['breakGlassConsoleEdit', consoleEditScenario],
    ['breakGlassOverwriteRecovery', overwriteRecoveryScenario],
    ['breakGlassRebootstrap', rebootstrapScenario],
    ['breakGlassDrill', (w) => drillScenario(w, policy.drillLogDirectory)],
    ['backstopProgram', (w) => backstopScenario(w, policy)],
    ['incident', incidentScenario],
    ['freezeLift', freezeLiftScenario],
    [
      'releaseRollback (pin)',
      (w) => releaseRollbackScenario(w, 'helm_pin_then_merge_revert'),
      { policy: () => releasePolicy },
    ],
    [
      'releaseRollback (merge revert)',
      (w) => releaseRollbackScenario(w, 'merge_revert'),
      { policy: () => releasePolicy },
    ],
  ];
  const only = process.env.FAULT_MATRIX_RUNBOOKS?.split(',');
  const shard = matrixShard(scenarios.map(([runbook]) => runbook));
  const rows: string[] = [];
  let cells = 0;
  let sitesTotal = 0;
  let silent = 0;
  const decided = { skip: 0, abort: 0, cancel: 0 };

  for (const [runbook, scenarioOf, row] of scenarios) {
    const skip = (only && !only.includes(runbook)) || !shard.has(runbook);
    test(runbook, { skip }, async () => {
      const scenario = scenarioOf(world);
      const matrix = new FaultMatrix(suite, injector, world.sinks.pagerDuty);
      const deps = activityDeps(row?.policy() ?? policy, suite.db.pool, channelSecrets(world.sinks), {
        stagingDb: world.staging.pool,
      });
      await suite.withWorker(
        deps,
        async (taskQueue) => {
          const baseline = await matrix.runCell(scenario, taskQueue, undefined, undefined);
          assert.deepEqual(baseline.outcome.problems, [], `${runbook} without faults`);
          const sites = baseline.sites.filter(
            (type) => !LEFT_OUT(type, scenario.runbook) && (!row?.sites || row.sites.includes(type)),
          );
          sitesTotal += sites.length;
          const failures: string[] = [];
          const report = (label: string, took: string, problems: string[]) => {
            const line = `${runbook} ${label} (${took} s)${problems.length ? ` — SILENT: ${problems.join('; ')}` : ''}`;
            rows.push(line);
            if (process.env.FAULT_MATRIX_VERBOSE) process.stdout.write(`${line}\n`);
            if (problems.length) {
              silent++;
              failures.push(line);
            }
          };
          const onlyCell = process.env.FAULT_MATRIX_ONLY;
          const onlyColumns = process.env.FAULT_MATRIX_COLUMNS?.split(',');
          for (const site of sites) {
            /** What the site's non-retryable failure offered a human (none: an escalation path, or a pause without them). */
            let offered: string[] = [];
            for (const fault of FAULTS) {
              if (onlyCell && onlyCell !== `${site}:${fault}`) continue;
              if (onlyColumns && fault !== DECIDED_AFTER) continue;
              cells++;
              const began = Date.now();
              const cell = await matrix.runCell(scenario, taskQueue, site, fault, baseline.progress);
              const took = ((Date.now() - began) / 1000).toFixed(1);
              const problems = [...cell.outcome.problems];
              if (fault === DECIDED_AFTER && cell.outcome.path === 'needs_human')
                // A runbook's own pause is answered with an abort only where it offers one.
                // A cancellation from Temporal is open to anyone at any wait.
                offered = [
                  'cancel',
                  ...(cell.outcome.asked === 'decision'
                    ? (cell.outcome.options ?? [])
                    : scenario.humanPause?.abort
                      ? ['abort']
                      : []),
                ];
              if (JSON.stringify(cell.mutations) !== JSON.stringify(baseline.mutations))
                problems.push(
                  `mutations differ from the fault-free run: ${JSON.stringify(cell.mutations)} vs ${JSON.stringify(baseline.mutations)}`,
                );
              report(`${site} ${fault}: ${cell.outcome.path}`, took, problems);
            }
            for (const { column, answer } of DECISIONS) {
              if (onlyCell ? onlyCell !== `${site}:${column}` : !offered.includes(answer)) continue;
              if (onlyColumns && !onlyColumns.includes(column)) continue;
              cells++;
              decided[answer]++;
              const began = Date.now();
              const cell = await matrix.runCell(
                scenario,
                taskQueue,
                site,
                DECIDED_AFTER,
                baseline.progress,
                answer,
                RECORDED_DECISIONS[`${runbook} ${site} ${column}`],
              );
              const took = ((Date.now() - began) / 1000).toFixed(1);
              report(
                `${site} ${DECIDED_AFTER} then ${answer}: ended ${cell.outcome.ended ?? '(not completed)'}`,
                took,
                cell.outcome.problems,
              );
            }
          }
          assert.deepEqual(failures, [], `${runbook}: silent failures`);
        },
        { activity: [injector.factory] },
      );
    });
  }

  // Tests in a describe run in order: this one comes after every runbook's matrix.
  test('summary', () => {
    process.stdout.write(`${rows.join('\n')}\n`);
    process.stdout.write(
      `fault matrix${process.env.FAULT_MATRIX_SHARD ? ` (shard ${process.env.FAULT_MATRIX_SHARD})` : ''}: ${sitesTotal} sites × ${FAULTS.length} faults, ${decided.skip} skips, ${decided.abort} aborts, ${decided.cancel} cancellations, ${silent} silent failures (${cells} cells)\n`,
    );
    assert.equal(silent, 0, 'silent failures (listed above)');
  });
});
