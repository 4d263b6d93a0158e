import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { WorkflowHandle } from '@temporalio/client';
import { scratchDir } from '../../src/local/servers';
import { incident } from '../../src/workflows';
import { incidentWorkflowId, type IncidentInput } from '../../src/workflows/incident/definitions';
import { channelSecrets, policyWithChannels, startSinks, type Sinks } from '../fixtures/channels';
import { spawnNode, type ChildHandle } from '../fixtures/processes';
import { workflowSuite } from '../fixtures/suite';
import { uniqueId } from '../fixtures/temporal';
import { readUntil } from '../fixtures/wait';

/**
 * A deploy whose policy no longer serves a runbook with runs open (its section removed): the
 * worker (its real entry point, on the dev server: visibility) refuses to start, naming the runs,
 * instead of starting and failing each of them when it next reads its policy (an incident at its
 * next hand-over).
 */

const suite = workflowSuite({ server: 'dev', resetDatabase: false });
const tmp = scratchDir('runbooks-unserved-open-runs');
let sinks: Sinks;
const running: ChildHandle[] = [];
const started: WorkflowHandle[] = [];

before(async () => {
  sinks = await startSinks(tmp);
});

after(async () => {
  for (const child of running) child.child.kill('SIGKILL');
  for (const run of started) await run.terminate('test over').catch(() => undefined);
  await sinks?.stop();
});

describe('a worker whose policy cannot serve runs open on its task queue (dev server)', () => {
  test('does not start, naming the runs and what the policy lost; with the section back it starts', async () => {
    const taskQueue = uniqueId('runbooks-unserved');
    const incidentId = uniqueId('INC');
    const open = await suite.env.client.workflow.start(incident, {
      taskQueue,
      workflowId: incidentWorkflowId(incidentId),
      args: [{ incidentId } as IncidentInput],
    });
    started.push(open);
    const openQuery = `TaskQueue = '${taskQueue}' AND ExecutionStatus = 'Running'`;
    await readUntil(
      () => suite.env.client.workflow.count(openQuery),
      ({ count }) => count === 1,
      `visibility to count the open incident (${openQuery})`,
      30_000,
      200,
    );
    const env = suite.processEnv({ ...channelSecrets(sinks), RUNBOOKS_TASK_QUEUE: taskQueue });

    const withoutIncident = policyWithChannels(tmp, sinks, {
      overrides: (file) => {
        delete (file.runbooks as Partial<typeof file.runbooks>).incident;
      },
    });
    const refused = spawnNode('dist/src/worker/main.js', [], {
      ...env,
      RUNBOOKS_POLICY_FILE: withoutIncident.file,
    });
    running.push(refused);
    // Whichever it says first: a worker that starts is a failure now, not at the test's timeout.
    await refused.waitFor(/runbooks worker started|policy cannot serve runbooks that have runs open/);
    assert.doesNotMatch(refused.output(), /runbooks worker started/);
    assert.equal(await refused.exited(), 1, refused.output());
    const said = refused.output();
    assert.match(
      said,
      /the policy cannot serve runbooks that have runs open on task queue runbooks-unserved/,
    );
    assert.match(said, /incident: the policy has no runbooks\.incident section[^\n]*; 1 open: incident-INC-/);
    assert.ok(said.includes(open.workflowId), said);
    assert.match(
      said,
      /Restore what the policy lost \(or deploy the previous one\), or end those runs first/,
    );
    // The run was left as it was: open, no workflow task taken by the refusing worker.
    assert.equal((await open.describe()).status.name, 'RUNNING');
    assert.equal((await open.fetchHistory()).events?.length, 2);

    // The policy that serves it: the worker starts (and the run is its to serve).
    const full = policyWithChannels(tmp, sinks);
    const serving = spawnNode('dist/src/worker/main.js', [], { ...env, RUNBOOKS_POLICY_FILE: full.file });
    running.push(serving);
    await serving.waitFor(/runbooks worker started/, 60_000);
    serving.child.kill('SIGKILL');
  });
});
