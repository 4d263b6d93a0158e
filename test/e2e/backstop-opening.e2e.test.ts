import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { scratchDir } from '../../src/local/servers';
import { backstopProgram } from '../../src/workflows';
import { backstopWorkflowId, type BackstopStatus } from '../../src/workflows/backstop-program/definitions';
import { channelSecrets, policyWithChannels, startSinks, type Sinks } from '../fixtures/channels';
import { latestRunEvents, localActivities, localActivityAfter } from '../fixtures/history';
import { spawnNode, type ChildHandle } from '../fixtures/processes';
import { GITHUB_REPOSITORY } from '../fixtures/sinks/apis';
import { workflowSuite } from '../fixtures/suite';
import { uniqueId } from '../fixtures/temporal';
import { waitForStatus } from '../fixtures/wait';
import { waitForLockWaiter } from '../fixtures/database';

/**
 * A backstop programme's opening (policy read and story claim) is a local activity: it runs in the
 * worker inside the programme's first workflow task, so a worker that dies during it loses the
 * whole task. On the dev server with the worker as its own process: the claim is held up on the
 * story's lock, the worker is killed with SIGKILL while it waits, the lock is let go (the dead
 * worker's Postgres session may then commit its claim), and a new worker runs the task again.
 * The programme must sleep on T+30 with its story claimed once, by this run.
 */

const suite = workflowSuite({ server: 'dev', resetDatabase: false });
const tmp = scratchDir('runbooks-backstop-opening');
let sinks: Sinks;
const running: ChildHandle[] = [];

before(async () => {
  sinks = await startSinks(tmp);
});

after(async () => {
  for (const child of running) child.child.kill('SIGKILL');
  await sinks?.stop();
});

describe('backstop opening on the dev server', () => {
  test('kill -9 the worker while the opening waits on Postgres: a new worker opens the programme again, the story claimed once', async () => {
    const storyId = uniqueId('CVN-OPEN');
    const policy = policyWithChannels(tmp, sinks, {
      overrides: (file) => {
        file.runbooks.backstop = {
          ...file.runbooks.backstop,
          stories: {
            [storyId]: {
              dri: '@dococeven',
              openProject: { epicId: 149, storyWorkPackageId: 153 },
              github: { repository: GITHUB_REPOSITORY },
              consoleRestoreProbeUrl: `${sinks.webhook.url}/restore`,
            },
          },
        };
      },
    });
    const taskQueue = uniqueId('runbooks-opening');
    const env = suite.processEnv({
      ...channelSecrets(sinks),
      RUNBOOKS_TASK_QUEUE: taskQueue,
      RUNBOOKS_POLICY_FILE: policy.file,
    });

    // The story's claim lock (backstop_claim_story_v1), held so the opening waits inside its task.
    const holder = await suite.db.pool.connect();
    let holding = true;
    try {
      await holder.query('BEGIN');
      await holder.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 1))', [storyId]);
      const first = spawnNode('dist/src/worker/main.js', [], env);
      running.push(first);
      await first.waitFor(/runbooks worker started/);
      // The build's bundle (npm test builds first), not one made at this start.
      assert.match(first.output(), /workflow code from the prebuilt bundle/);
      const handle = await suite.env.client.workflow.start(backstopProgram, {
        taskQueue,
        workflowId: backstopWorkflowId(storyId),
        args: [{ storyId, mergeSha: '0b0a9c7f', mergedAt: new Date().toISOString() }],
      });
      // Killed as soon as the claim waits (the opening gives the claim 3 s before it gives up).
      await waitForLockWaiter(suite.db.pool, 'advisory', 'the claim waiting on the story lock');
      first.child.kill('SIGKILL');
      assert.equal(await first.exited(), null, 'killed by a signal');
      await holder.query('COMMIT');
      holding = false;

      const second = spawnNode('dist/src/worker/main.js', [], env);
      running.push(second);
      await second.waitFor(/runbooks worker started/);
      const status = await waitForStatus<BackstopStatus>(
        handle,
        (s) => s.detail.next?.checkpoint === 'T+30',
        'asleep on T+30',
        120_000,
      );
      const runId = (await handle.describe()).runId;
      const { rows } = await suite.db.pool.query<{ kind: string; run_id: string }>(
        'SELECT kind, run_id FROM backstop_story_events WHERE story_id = $1',
        [storyId],
      );
      assert.deepEqual(rows, [{ kind: 'started', run_id: runId }], 'claimed once, by this run');
      assert.ok(
        !status.events.some((e) => e.kind === 'story_claim_again'),
        'the second opening claimed (or found its claim)',
      );
      const events = await latestRunEvents(handle);
      assert.ok(
        localActivityAfter(events, (e) => !!e.workflowTaskTimedOutEventAttributes),
        'the first task was lost with the worker; the opening recorded after',
      );
      assert.deepEqual(
        localActivities(events).map((a) => a.type),
        ['openBackstopProgram'],
      );
      await handle.terminate('test over');
    } finally {
      if (holding) await holder.query('ROLLBACK').catch(() => undefined);
      holder.release();
    }
  });
});
