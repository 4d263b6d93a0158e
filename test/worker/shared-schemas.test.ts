import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { bundleWorkflowCode, Worker } from '@temporalio/worker';
import { workflowBundleOptions } from '../../src/worker/paths';
import { testDataConverter } from '../fixtures/payload-keys';
import { startTimeSkipping, uniqueId, type TimeSkippingHarness } from '../fixtures/temporal';
import { sharedSchemaProbe } from '../fixtures/shared-schema-probe/workflows';
import { quietLogger } from '../fixtures/logger';

/**
 * src/common/shared-schemas.ts in the SDK's own workflow sandbox, not a simulation of it: with the
 * bundle options every worker uses (the memo preloaded), runs created one after another on one
 * worker get the group the first run built; bundled without the preload, each run builds its own.
 */
let harness: TimeSkippingHarness;

before(async () => {
  harness = await startTimeSkipping();
});

after(async () => {
  await harness?.teardown();
});

async function tokensOfRuns(preloaded: boolean, runs: number): Promise<number[]> {
  const options = workflowBundleOptions(require.resolve('../fixtures/shared-schema-probe/workflows'));
  const taskQueue = uniqueId('shared-schemas');
  const worker = await Worker.create({
    connection: harness.env.nativeConnection,
    namespace: 'default',
    taskQueue,
    workflowBundle: await bundleWorkflowCode({
      ...options,
      preloadModules: preloaded ? options.preloadModules : [],
      logger: quietLogger,
    }),
    dataConverter: testDataConverter(),
    // Every run is created afresh (evicted after each task), as on a busy worker.
    maxCachedWorkflows: 1,
  });
  return worker.runUntil(async () => {
    const tokens: number[] = [];
    for (let i = 0; i < runs; i++)
      tokens.push(
        await harness.env.client.workflow.execute(sharedSchemaProbe, {
          taskQueue,
          workflowId: uniqueId('probe'),
        }),
      );
    return tokens;
  });
}

describe('shared schemas in the workflow sandbox', () => {
  test('with the memo preloaded, every run gets the group the first run built', async () => {
    const tokens = await tokensOfRuns(true, 3);
    assert.equal(new Set(tokens).size, 1, `tokens ${tokens.join(', ')}`);
  });

  test('without the preload, each run builds its own (what the SDK does to every other module)', async () => {
    const tokens = await tokensOfRuns(false, 3);
    assert.equal(new Set(tokens).size, 3, `tokens ${tokens.join(', ')}`);
  });
});
