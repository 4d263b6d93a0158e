import { setChangeFreeze } from '../../../src/activities/sql/change-freeze';
import { freezeLift } from '../../../src/workflows';
import { freezeLiftWorkflowId } from '../../../src/workflows/freeze-lift/definitions';
import { incidentWorkflowId } from '../../../src/workflows/incident/definitions';
import { IC, type Scenario } from '../../fixtures/fault-matrix';
import { freezeStates, type MatrixWorld } from './world';

/**
 * A change freeze lifted by hand (seed 004 §1.3): the incident's run is gone (its reads find no
 * run), its freeze of production is in force; the lift reads the run, reads the freezes, lifts.
 */

const MINUTE = 60_000;

export function freezeLiftScenario(world: MatrixWorld): Scenario {
  let incidentId = '';
  return {
    runbook: 'freezeLift',
    async reset() {
      world.sinks.reset();
      await world.suite.db.pool.query('DELETE FROM change_freezes');
    },
    async start(taskQueue, runId) {
      incidentId = runId;
      await setChangeFreeze(world.suite.db.pool, {
        incidentId,
        environment: 'production',
        workflowId: incidentWorkflowId(incidentId),
        by: IC,
        reason: 'P1 whose run was cancelled',
        at: new Date().toISOString(),
      });
      return world.suite.env.client.workflow.start(freezeLift, {
        taskQueue,
        workflowId: freezeLiftWorkflowId(runId),
        args: [{ incidentId, requestedBy: IC, reason: 'fault matrix' }],
      });
    },
    // Nothing to answer: the lift asks no one unless a step fails.
    drive: () => Promise.resolve(false),
    tick: () => MINUTE,
    // A freeze left in force is the safe side: runbooks keep refusing to act.
    unsafe: () => Promise.resolve(undefined),
    mutations: () => freezeStates(world, incidentId),
    success: 'lifted',
  };
}
