import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { after, before, beforeEach, describe, test } from 'node:test';
import { scratchDir } from '../../src/local/servers';
import type { LoadedPolicy } from '../../src/worker/policy';
import { breakGlassDrill } from '../../src/workflows';
import { approveSignal, type BreakGlassDrillStatus } from '../../src/workflows/break-glass-drill/definitions';
import { stepDecisionSignal } from '../../src/workflows/shared/messages';
import { createTestDatabase, type TestDatabase } from '../fixtures/database';
import { FaultInjector } from '../fixtures/faults';
import { activityDeps, writeTestPolicy } from '../fixtures/policy';
import { workflowSuite } from '../fixtures/suite';
import { uniqueId } from '../fixtures/temporal';
import { atStep, waitForStatus } from '../fixtures/wait';

/** The drill's SLO verdicts with the shipped durations (2 min pause, 10 / 15 min thresholds). */

const MINUTE = 60_000;
const tmp = scratchDir('runbooks-drill-wf');
// The suite's database is the target; the drill works on a second one, the staging copy.
const suite = workflowSuite({ server: 'time-skipping', resetDatabase: false });
let staging: TestDatabase;
let policy: LoadedPolicy;

before(async () => {
  staging = await createTestDatabase();
  policy = writeTestPolicy(tmp, () => undefined);
});

after(async () => {
  await staging?.drop();
});

beforeEach(async () => {
  await staging.reset();
});

function drill(approveAfterMs: number, injector?: FaultInjector) {
  return suite.withWorker(
    activityDeps(policy, suite.db.pool, {}, { stagingDb: staging.pool }),
    async (taskQueue) => {
      const handle = await suite.env.client.workflow.start(breakGlassDrill, {
        taskQueue,
        workflowId: uniqueId('drill'),
        args: [{}],
      });
      const gate = await waitForStatus<BreakGlassDrillStatus>(
        handle,
        atStep('awaiting_approval'),
        'the drill gate',
      );
      if (approveAfterMs > 0) await suite.env.sleep(approveAfterMs);
      await handle.signal(approveSignal, { approver: '@dococeven', planHash: gate.detail.plan!.planHash });
      if (injector) {
        // The verification fails for good; the drill's requester skips it.
        await suite.env.sleep(3 * MINUTE);
        await waitForStatus<BreakGlassDrillStatus>(handle, atStep('needs_human'), 'the failed verification');
        await handle.signal(stepDecisionSignal, { by: '@dococeven', decision: 'skip', reason: 'drill' });
      }
      return handle.result();
    },
    injector ? { activity: [injector.factory] } : undefined,
  );
}

describe('breakGlassDrill SLO (time-skipping)', () => {
  test('approved at once: within the 10 min SLO (2 min pause included)', async () => {
    const result = await drill(0);
    assert.equal(result.outcome, 'drill_within_slo');
    assert.ok(result.slo!.elapsedMs >= 2 * MINUTE && result.slo!.elapsedMs < 10 * MINUTE);
  });

  test('the verification fails and is skipped: not completed, no SLO verdict (it runs to a verified restore)', async () => {
    const injector = new FaultInjector();
    injector.arm('verifyRestore', 'non_retryable', 'breakGlassDrill');
    const result = await drill(0, injector);
    assert.equal(result.outcome, 'drill_not_completed', result.message);
    assert.match(result.message, /skipped by @dococeven.*never reached a verified restore/);
    assert.equal(result.slo, undefined);
  });

  test('approved after 11 min: over the SLO, not yet "needs tightening"', async () => {
    const result = await drill(11 * MINUTE);
    assert.equal(result.outcome, 'drill_over_slo');
    assert.equal(result.slo?.verdict, 'over_slo');
  });

  test('over 15 min: the result says the runbook needs tightening, a notice goes out, the log says so', async () => {
    const result = await drill(16 * MINUTE);
    assert.equal(result.outcome, 'drill_needs_tightening');
    assert.ok(
      result.flags.some((f) => f.code === 'drill_needs_tightening' && /needs tightening/.test(f.message)),
    );
    assert.ok(result.notices.some((n) => n.kind === 'drill_needs_tightening'));
    assert.ok(result.logPath && existsSync(result.logPath));
    assert.match(
      readFileSync(result.logPath, 'utf8'),
      /drill_needs_tightening: .* the runbook needs tightening/,
    );
  });
});
