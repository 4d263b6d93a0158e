import { incident } from '../../../src/workflows';
import {
  fileReviewMessage,
  incidentWorkflowId,
  postUpdateMessage,
  resolveMessage,
} from '../../../src/workflows/incident/definitions';
import { IC, type Scenario } from '../../fixtures/fault-matrix';
import { FakeCluster, orchestratorCluster } from '../../fixtures/kubectl';
import { freezeStates, type MatrixWorld } from './world';

/**
 * The incident of seed 004 on the path that touches every system it uses: a customer-facing P1
 * freezes production and opens a status page incident; an update goes to the status page; the
 * resolution lifts the freeze and resolves the status page incident; the review is filed.
 */

const MINUTE = 60_000;

interface IncidentDetail {
  resolution?: unknown;
  review?: { filedAt?: string };
  updates: { count: number };
}

export function incidentScenario(world: MatrixWorld): Scenario {
  let incidentId = '';
  const done = new Set<string>();
  return {
    runbook: 'incident',
    async reset() {
      done.clear();
      world.sinks.reset();
      // Preservation reads the orchestrator's logs and the incident metrics.
      FakeCluster.create(world.tmp, orchestratorCluster()).install();
      world.prometheus.values.failure_rate = 0.31;
      await world.suite.db.pool.query('DELETE FROM change_freezes');
    },
    start(taskQueue, runId) {
      incidentId = runId;
      return world.suite.env.client.workflow.start(incident, {
        taskQueue,
        workflowId: incidentWorkflowId(runId),
        args: [
          {
            incidentId: runId,
            severity: 'P1',
            symptoms: 'orchestrator 5xx storm',
            impact: 'customers cannot generate rules',
            incidentCommander: IC,
            declaredBy: IC,
            customersAffected: true,
          },
        ],
      });
    },
    async drive(handle, status) {
      const detail = status.detail as unknown as IncidentDetail;
      // One thing at a time, each once: an update, the resolution, then the review.
      const next: [string, () => Promise<void>][] = [
        ['update', () => handle.signal(postUpdateMessage.signal, { by: IC, text: 'mitigating' })],
        ['resolve', () => handle.signal(resolveMessage.signal, { by: IC, summary: 'rolled back, green' })],
        [
          'review',
          () =>
            handle.signal(fileReviewMessage.signal, {
              by: IC,
              documentUrl: 'https://docs.example.com/incidents/matrix.md',
            }),
        ],
      ];
      const ready =
        status.step === 'responding' ||
        (status.step === 'awaiting_review' && detail.resolution !== undefined && !detail.review?.filedAt);
      const step = next.find(([name]) => !done.has(name));
      if (!ready || !step) return false;
      done.add(step[0]);
      await step[1]();
      return true;
    },
    tick: () => MINUTE,
    // The incident changes no target system: its safe state is to stop and ask.
    unsafe: () => Promise.resolve(undefined),
    // The freeze's life and the status page incident's, comparable across runs.
    async mutations() {
      const pages = [...world.sinks.statusPage.incidents.values()].map(
        (page) => `status page ${page.status} after ${page.updates} updates`,
      );
      return [...(await freezeStates(world, incidentId)), ...pages];
    },
    success: 'resolved_and_reviewed',
  };
}
