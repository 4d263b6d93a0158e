import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { WorkflowService } from '@temporalio/client';
import type { DefaultLogger } from '@temporalio/worker';
import { ConfigurationError } from '../../src/common/errors';
import { refuseUnservedOpenRuns } from '../../src/worker/unserved-open-runs';

/**
 * The start check's answers a dev server does not give on demand: many runs open (named up to
 * five, the rest counted), a visibility store that cannot answer (a warning, and the worker
 * starts). The refusal itself, with the real worker and a dev server: test/e2e/unserved-open-runs.
 */

function service(answer: (query: string) => { count: number; ids: string[] } | Error): {
  service: WorkflowService;
  queries: string[];
} {
  const queries: string[] = [];
  const respond = <T>(query: string, shape: (found: { count: number; ids: string[] }) => T): Promise<T> => {
    queries.push(query);
    const found = answer(query);
    return found instanceof Error ? Promise.reject(found) : Promise.resolve(shape(found));
  };
  return {
    queries,
    service: {
      countWorkflowExecutions: ({ query }: { query: string }) => respond(query, ({ count }) => ({ count })),
      listWorkflowExecutions: ({ query, pageSize }: { query: string; pageSize: number }) =>
        respond(query, ({ ids }) => ({
          executions: ids.slice(0, pageSize).map((workflowId) => ({ execution: { workflowId } })),
        })),
    } as unknown as WorkflowService,
  };
}

function logger(): { logger: DefaultLogger; warnings: string[] } {
  const warnings: string[] = [];
  return {
    warnings,
    logger: { warn: (message: string) => warnings.push(message) } as unknown as DefaultLogger,
  };
}

describe('the worker’s start check of open runs its policy cannot serve', () => {
  test('names five runs and counts the rest; asks by task queue and each workflow type that reads the section', async () => {
    const ids = Array.from({ length: 12 }, (_, i) => `incident-INC-${i}`);
    const fake = service((query) =>
      query.includes("WorkflowType = 'incident'") ? { count: 12, ids } : { count: 0, ids: [] },
    );
    const { logger: log, warnings } = logger();
    await assert.rejects(
      refuseUnservedOpenRuns(
        fake.service,
        'default',
        'runbooks',
        [
          { runbook: 'incident', reason: 'the policy has no runbooks.incident section' },
          { runbook: 'breakGlassDrill', reason: 'no STAGING_DATABASE_URL' },
        ],
        false,
        log,
      ),
      (error: unknown) => {
        assert.ok(error instanceof ConfigurationError);
        assert.match(
          error.message,
          /incident: the policy has no runbooks\.incident section; 12 open: incident-INC-0, incident-INC-1, incident-INC-2, incident-INC-3, incident-INC-4, and 7 more\n/,
        );
        assert.doesNotMatch(error.message, /breakGlassDrill/);
        return true;
      },
    );
    assert.deepEqual(warnings, []);
    assert.ok(
      fake.queries.includes(
        "TaskQueue = 'runbooks' AND ExecutionStatus = 'Running' AND (WorkflowType = 'incident' OR WorkflowType = 'freezeLift')",
      ),
    );
    assert.ok(
      fake.queries.includes(
        "TaskQueue = 'runbooks' AND ExecutionStatus = 'Running' AND (WorkflowType = 'breakGlassDrill')",
      ),
    );
  });

  test('visibility that cannot answer: a warning naming the runbook, and the worker starts', async () => {
    const fake = service(() => Object.assign(new Error('permission denied'), { code: 7 }));
    const { logger: log, warnings } = logger();
    await refuseUnservedOpenRuns(
      fake.service,
      'default',
      'runbooks',
      [{ runbook: 'incident', reason: 'no section' }],
      false,
      log,
    );
    assert.deepEqual(warnings, [
      'could not list open incident runs: a run of it would fail when it next reads its policy',
    ]);
  });

  test('no open run of what it cannot serve: it starts, saying nothing more', async () => {
    const fake = service(() => ({ count: 0, ids: [] }));
    const { logger: log, warnings } = logger();
    await refuseUnservedOpenRuns(
      fake.service,
      'default',
      'runbooks',
      [{ runbook: 'releaseRollback', reason: 'x' }],
      false,
      log,
    );
    assert.deepEqual(warnings, []);
    assert.deepEqual(fake.queries, [
      "TaskQueue = 'runbooks' AND ExecutionStatus = 'Running' AND (WorkflowType = 'releaseRollback')",
      "TaskQueue = 'runbooks' AND ExecutionStatus = 'Running' AND (WorkflowType = 'releaseRollback')",
    ]);
  });

  test('a versioned worker asks only for the types that move to it (AUTO_UPGRADE); PINNED runs stay with their build', async () => {
    const fake = service(() => ({ count: 0, ids: [] }));
    const { logger: log } = logger();
    await refuseUnservedOpenRuns(
      fake.service,
      'default',
      'runbooks',
      [
        { runbook: 'incident', reason: 'no section' },
        { runbook: 'breakGlassDrill', reason: 'no staging' },
      ],
      true,
      log,
    );
    const incidentOnly =
      "TaskQueue = 'runbooks' AND ExecutionStatus = 'Running' AND (WorkflowType = 'incident')";
    assert.deepEqual(fake.queries, [incidentOnly, incidentOnly]);
  });
});
