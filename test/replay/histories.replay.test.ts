import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { DeterminismViolationError } from '@temporalio/workflow';
import { Worker, type WorkflowBundle } from '@temporalio/worker';
import { REPO_ROOT } from '../../src/local/paths';
import { workflowBundle } from '../fixtures/temporal';

/**
 * Replays recorded histories of full runs of every workflow against today's code: a change that would
 * break runs in flight (non-determinism) fails here. Re-record with `RECORD_HISTORIES=1 npm test`
 * only when a change is deliberately incompatible (and then version it with patched()).
 */

const HISTORIES = path.join(REPO_ROOT, 'test', 'replay', 'histories');
let bundle: WorkflowBundle;

before(async () => {
  bundle = await workflowBundle();
});

const files = readdirSync(HISTORIES)
  .filter((name) => name.endsWith('.json'))
  .sort();

describe('replay of recorded histories (every workflow)', () => {
  test('there is a recorded history of every workflow', () => {
    const types = new Set(
      files.map((file) => {
        const history = historyFromJSON(JSON.parse(readFileSync(path.join(HISTORIES, file), 'utf8')));
        return history.events?.[0]?.workflowExecutionStartedEventAttributes?.workflowType?.name;
      }),
    );
    for (const workflow of [
      'breakGlassRestore',
      'breakGlassConsoleEdit',
      'breakGlassOverwriteRecovery',
      'breakGlassRebootstrap',
      'breakGlassDrill',
      'rollbackToPilot',
      'phasedReenablement',
      'backstopProgram',
    ]) {
      assert.ok(types.has(workflow), `no recorded history of ${workflow} in test/replay/histories`);
    }
  });

  for (const file of files) {
    test(`${file} replays without non-determinism`, async () => {
      const history = JSON.parse(readFileSync(path.join(HISTORIES, file), 'utf8')) as unknown;
      await Worker.runReplayHistory({ workflowBundle: bundle, replayName: file }, history);
    });
  }

  test('a history that disagrees with the code is detected (the replay check can fail)', async () => {
    const file = files.find((name) => name.includes('time-skipping')) ?? files[0]!;
    const history = historyFromJSON(JSON.parse(readFileSync(path.join(HISTORIES, file), 'utf8')));
    const scheduled = history.events?.find((event) => event.activityTaskScheduledEventAttributes);
    assert.ok(scheduled?.activityTaskScheduledEventAttributes?.activityType);
    // Pretend the recorded run scheduled a different first activity than the code does.
    scheduled.activityTaskScheduledEventAttributes.activityType.name = 'someOtherActivity';
    await assert.rejects(
      Worker.runReplayHistory({ workflowBundle: bundle, replayName: 'tampered' }, history),
      DeterminismViolationError,
    );
  });
});
