import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { historyEvents, signals } from '../fixtures/history';
import { spawnNode } from '../fixtures/processes';
import { workflowSuite } from '../fixtures/suite';
import { uniqueId } from '../fixtures/temporal';

/**
 * The CLI against the dev server: a run named by its incident is found among the runbooks' runs,
 * an incident with several runs in progress asks for --procedure, and --json answers in JSON. The
 * runs here have no worker: the lookup and the messages only need the server.
 */
const suite = workflowSuite({ server: 'dev', resetDatabase: false });

async function cli(...args: string[]): Promise<{ code: number | null; output: string }> {
  const run = spawnNode('dist/src/cli/main.js', args, {
    TEMPORAL_ADDRESS: suite.devServer.address,
    TEMPORAL_NAMESPACE: 'default',
  });
  const code = await run.exited();
  return { code, output: run.output() };
}

describe('CLI: runs found by incident (dev server)', () => {
  test('one run in progress is found without --procedure; several ask for it; --json is JSON', async () => {
    const incident = uniqueId('INC');
    const taskQueue = uniqueId('no-worker');
    const { client } = suite.env;
    const restore = await client.workflow.start('breakGlassRestore', {
      taskQueue,
      workflowId: `break-glass-restore-${incident}`,
      args: [{}],
    });
    const reenablement = await client.workflow.start('phasedReenablement', {
      taskQueue,
      workflowId: `phased-reenablement-${incident}`,
      args: [{}],
    });

    const ambiguous = await cli('abort', '--incident', incident, '--by', '@sre', '--reason', 'stop');
    assert.equal(ambiguous.code, 1);
    assert.match(ambiguous.output, /several runs in progress/);
    assert.match(
      ambiguous.output,
      new RegExp(`phased-reenablement-${incident} \\(--procedure reenablement\\)`),
    );
    assert.match(ambiguous.output, new RegExp(`break-glass-restore-${incident} \\(--procedure A\\)`));

    const chosen = await cli(
      'abort',
      '--incident',
      incident,
      '--procedure',
      'reenablement',
      '--by',
      '@sre',
      '--reason',
      'stop',
      '--json',
    );
    assert.equal(chosen.code, 0, chosen.output);
    assert.deepEqual(JSON.parse(chosen.output), { sent: 'abort', workflowId: reenablement.workflowId });

    // pause belongs to the re-enablement: no --procedure needed even with two runs in progress.
    const pause = await cli('pause', '--incident', incident, '--by', '@sre');
    assert.equal(pause.code, 0, pause.output);

    await reenablement.terminate('test over');
    // retry and acknowledge-conflict reach the run as the signals the workflow handles.
    const retry = await cli('retry', '--incident', incident, '--by', '@sre', '--json');
    assert.deepEqual(JSON.parse(retry.output), { sent: 'stepDecision', workflowId: restore.workflowId });
    const ack = await cli(
      'acknowledge-conflict',
      '--incident',
      incident,
      '--by',
      '@sre',
      '--note',
      'intended',
    );
    assert.equal(ack.code, 0, ack.output);
    const single = await cli('abort', '--incident', incident, '--by', '@sre', '--reason', 'stop', '--json');
    assert.equal(single.code, 0, single.output);
    assert.deepEqual(JSON.parse(single.output), { sent: 'abort', workflowId: restore.workflowId });

    assert.deepEqual(
      signals(await historyEvents(reenablement)).map((s) => s.name),
      ['abort', 'pause'],
    );
    assert.deepEqual(
      signals(await historyEvents(restore)).map((s) => s.name),
      ['stepDecision', 'acknowledgeConflict', 'abort'],
    );
    await restore.terminate('test over');

    const missing = await cli('status', '--incident', uniqueId('INC'));
    assert.equal(missing.code, 1);
    assert.match(missing.output, /no run of any runbook for incident/);
  });
});
