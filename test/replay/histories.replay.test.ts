import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import type { temporal } from '@temporalio/proto';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { DeterminismViolationError } from '@temporalio/workflow';
import { bundleWorkflowCode, Worker, type ReplayResult, type WorkflowBundle } from '@temporalio/worker';
import { REPO_ROOT } from '../../src/local/paths';
import { workflowBundle } from '../fixtures/temporal';
import { testDataConverter } from '../fixtures/payload-keys';
import { recordedWorkflowIds } from '../fixtures/history';
import { workflowBundleOptions } from '../../src/worker/paths';
import { quietLogger } from '../fixtures/logger';
import { RUNBOOK_NAMES } from '../../src/client/runbooks';

/**
 * The replay gate: histories recorded by earlier releases — whole runs, and runs captured asleep
 * (a backstop before T+90, a re-enablement during a hold) — kept under
 * test/replay/histories/<release>/, must replay on today's code. A change that would break runs in
 * flight (non-determinism) fails here; the fix is patched() (README "Long-lived runs"), not
 * re-recording. `RECORD_HISTORIES=1 npm test` records this release's histories into the folder of
 * package.json's version, for the releases after it.
 */

const HISTORIES = path.join(REPO_ROOT, 'test', 'replay', 'histories');
let bundle: WorkflowBundle;
/** Each recorded history's replay, by `release/file`. */
const replayed = new Map<string, ReplayResult>();

/**
 * Every recorded history through one replay worker, as a worker meets many runs. A worker per
 * history built a source map consumer each (WebAssembly memory the SDK never frees): past about
 * 300 histories the source map library failed ("RuntimeError: unreachable") in every later replay.
 */
before(async () => {
  bundle = await workflowBundle();
  for (const [key, result] of await replayAll(bundle, recorded)) replayed.set(key, result);
});

/**
 * Each history's replay on `workflowBundle`, by `release/file`, through one replay worker per pass
 * (a worker costs ~0.8 s to build). Under its own workflow id when recorded with it (since 0.23.0),
 * else under its file's name; runs of one workflow id (an incident that continued as new) go in
 * separate passes, as the replay's results are told apart by workflow id.
 */
async function replayAll(
  workflowBundle: WorkflowBundle,
  histories: Recorded[],
): Promise<Map<string, ReplayResult>> {
  const results = new Map<string, ReplayResult>();
  const passes: Recorded[][] = [];
  for (const r of histories) {
    const id = idOf(r);
    const pass = passes.find((candidate) => !candidate.some((other) => idOf(other) === id));
    if (pass) pass.push(r);
    else passes.push([r]);
  }
  for (const pass of passes) {
    const keyOf = new Map(pass.map((r) => [idOf(r), `${r.release}/${r.file}`]));
    const replays = Worker.runReplayHistories(
      { workflowBundle, replayName: 'replay gate', dataConverter: testDataConverter() },
      pass.map((r) => ({ workflowId: idOf(r), history: r.history })),
    );
    for await (const result of replays)
      results.set(keyOf.get(result.workflowId) ?? result.workflowId, result);
  }
  return results;
}

function idOf(r: Recorded): string {
  return r.workflowId ?? `${r.release}/${r.file}`;
}

interface Recorded {
  release: string;
  file: string;
  json: unknown;
  history: temporal.api.history.v1.IHistory;
  workflowType: string;
  /** The run was still going when recorded (asleep on a timer, waiting for a person). */
  asleep: boolean;
  /** Its workflow id, when recorded with it (WORKFLOW_IDS_FILE, since 0.23.0). */
  workflowId?: string;
}

const CLOSED = [
  'workflowExecutionCompletedEventAttributes',
  'workflowExecutionFailedEventAttributes',
  'workflowExecutionContinuedAsNewEventAttributes',
  'workflowExecutionTerminatedEventAttributes',
  'workflowExecutionCanceledEventAttributes',
  'workflowExecutionTimedOutEventAttributes',
] as const;

const recorded: Recorded[] = readdirSync(HISTORIES, { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .map((entry) => entry.name)
  .sort()
  .flatMap((release) => {
    const workflowIds = recordedWorkflowIds(path.join(HISTORIES, release));
    return readdirSync(path.join(HISTORIES, release))
      .filter((name) => name.endsWith('.json'))
      .sort()
      .map((file) => {
        const json = JSON.parse(readFileSync(path.join(HISTORIES, release, file), 'utf8')) as unknown;
        const history = historyFromJSON(json);
        const events = history.events ?? [];
        return {
          release,
          file,
          json,
          history,
          workflowType: events[0]?.workflowExecutionStartedEventAttributes?.workflowType?.name ?? '(unknown)',
          asleep: !CLOSED.some((key) => events.at(-1)?.[key]),
          ...(workflowIds[file] ? { workflowId: workflowIds[file] } : {}),
        };
      });
  });

describe('replay gate: histories of earlier releases replay on today’s code', () => {
  test('every workflow has a recorded history, and the long-lived ones a mid-sleep one', () => {
    const types = new Set(recorded.map((r) => r.workflowType));
    // Every runbook the task queue serves (the list missed incident, releaseRollback and freezeLift).
    for (const workflow of RUNBOOK_NAMES)
      assert.ok(types.has(workflow), `no recorded history of ${workflow} in test/replay/histories`);
    for (const workflow of ['phasedReenablement', 'backstopProgram'])
      assert.ok(
        recorded.some((r) => r.workflowType === workflow && r.asleep),
        `no history of ${workflow} captured asleep`,
      );
    for (const r of recorded.filter((r) => r.file.includes('mid-sleep')))
      assert.ok(r.asleep, `${r.release}/${r.file} is named mid-sleep but the run had ended`);
  });

  for (const r of recorded) {
    test(`${r.release}/${r.file} replays without non-determinism${r.asleep ? ' (asleep)' : ''}`, () => {
      const result = replayed.get(`${r.release}/${r.file}`);
      assert.ok(result, 'not replayed');
      if (result.error) throw result.error;
    });
  }

  test('a history that disagrees with the code is detected (the replay check can fail)', async () => {
    const r = recorded.find((x) => x.file.includes('time-skipping')) ?? recorded[0]!;
    const history = historyFromJSON(r.json);
    const scheduled = history.events?.find((event) => event.activityTaskScheduledEventAttributes);
    assert.ok(scheduled?.activityTaskScheduledEventAttributes?.activityType);
    // Pretend the recorded run scheduled a different first activity than the code does.
    scheduled.activityTaskScheduledEventAttributes.activityType.name = 'someOtherActivity';
    await assert.rejects(
      Worker.runReplayHistory(
        { workflowBundle: bundle, replayName: 'tampered', dataConverter: testDataConverter() },
        history,
      ),
      DeterminismViolationError,
    );
  });

  test('a logic change without patched() fails the gate on the sleeping re-enablement; the same change behind patched() passes', async () => {
    const asleep = recorded.filter((x) => x.workflowType === 'phasedReenablement' && x.asleep);
    assert.ok(asleep.length > 0);
    const [unguarded, guarded] = await Promise.all(
      ['unguarded', 'guarded'].map((name) =>
        bundleWorkflowCode({
          ...workflowBundleOptions(require.resolve(`../fixtures/changed-workflows/${name}`)),
          logger: quietLogger,
        }),
      ),
    );
    const [broken, kept] = await Promise.all([replayAll(unguarded!, asleep), replayAll(guarded!, asleep)]);
    for (const r of asleep) {
      const key = `${r.release}/${r.file}`;
      assert.ok(
        broken.get(key)?.error instanceof DeterminismViolationError,
        `${key} must not replay on the unguarded change (${String(broken.get(key)?.error ?? 'it did')})`,
      );
      const guardedReplay = kept.get(key);
      assert.ok(guardedReplay, `${key}: not replayed on the guarded change`);
      if (guardedReplay.error) throw guardedReplay.error;
    }
  });
});
