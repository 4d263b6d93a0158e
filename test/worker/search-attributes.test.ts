import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { msToTs } from '@temporalio/common/lib/time';
import { temporal } from '@temporalio/proto';
import { RUNBOOK_SEARCH_ATTRIBUTES } from '../../src/common/search-attributes';
import { ensureRunbookSearchAttributes } from '../../src/local/search-attributes';
import { checkRunbookSearchAttributes, type SearchAttributeLister } from '../../src/worker/search-attributes';
import { createTestDatabase, type TestDatabase } from '../fixtures/database';
import { quietLogger } from '../fixtures/logger';
import { spawnNode } from '../fixtures/processes';
import { startDev, uniqueId, type DevServerHarness } from '../fixtures/temporal';
import { TEST_POLICY_FILE } from '../fixtures/policy';
import { readUntil } from '../fixtures/wait';

/**
 * The worker checks the namespace's search attributes before it serves: in a namespace without
 * them every run stalled at its first workflow task (the server refuses the task that sets them),
 * and the worker said nothing.
 */

let dev: DevServerHarness;
let db: TestDatabase;

before(async () => {
  dev = await startDev();
  db = await createTestDatabase();
});

after(async () => {
  await db?.drop();
  await dev?.teardown();
});

/** A namespace of its own on the dev server, without the runbooks' search attributes. */
async function bareNamespace(): Promise<string> {
  const namespace = uniqueId('bare');
  await dev.env.connection.workflowService.registerNamespace({
    namespace,
    workflowExecutionRetentionPeriod: msToTs('1 day'),
  });
  await readUntil(
    () =>
      dev.env.connection.operatorService
        .listSearchAttributes({ namespace })
        .then(() => true)
        .catch(() => false),
    (ready) => ready,
    `namespace ${namespace} registered`,
  );
  return namespace;
}

function worker(namespace: string) {
  return spawnNode('dist/src/worker/main.js', [], {
    DATABASE_URL: db.url,
    TEMPORAL_ADDRESS: dev.server.address,
    TEMPORAL_NAMESPACE: namespace,
    RUNBOOKS_TASK_QUEUE: uniqueId('search-attributes'),
    RUNBOOKS_POLICY_FILE: TEST_POLICY_FILE,
  });
}

describe('search attributes at the worker start', () => {
  test('a namespace without them stops the worker, naming each and the command that creates it', async () => {
    const namespace = await bareNamespace();
    const refused = worker(namespace);
    const ended = await Promise.race([
      refused.exited(),
      refused.waitFor(/runbooks worker started/).then(() => 'started' as const),
    ]);
    if (ended === 'started') {
      refused.child.kill('SIGINT');
      await refused.exited();
    }
    assert.equal(ended, 1, refused.output());
    const output = refused.output();
    assert.doesNotMatch(output, /runbooks worker started/);
    for (const { name } of RUNBOOK_SEARCH_ATTRIBUTES) {
      assert.match(output, new RegExp(`\\b${name}\\b`));
      assert.ok(
        output.includes(
          `temporal operator search-attribute create --namespace ${namespace} --name ${name} --type Keyword`,
        ),
        `the command for ${name}:\n${output}`,
      );
    }

    // Once created, the same worker starts.
    await ensureRunbookSearchAttributes(dev.env.connection, namespace);
    const serving = worker(namespace);
    try {
      await serving.waitFor(/runbooks worker started/);
    } finally {
      serving.child.kill('SIGINT');
      await serving.exited();
    }
  });

  test('one missing is named alone; one of another type, or a credential that may not read them, is a warning', async () => {
    const { IndexedValueType } = temporal.api.enums.v1;
    const keyword = IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD;
    const all = Object.fromEntries(RUNBOOK_SEARCH_ATTRIBUTES.map(({ name }) => [name, keyword]));
    const lister = (customAttributes: Record<string, number>): SearchAttributeLister => ({
      listSearchAttributes: () => Promise.resolve({ customAttributes }),
    });
    const warnings: string[] = [];
    const logger = { ...quietLogger, warn: (message: string) => warnings.push(message) };

    const { RunbookStep: _step, ...withoutStep } = all;
    await assert.rejects(
      checkRunbookSearchAttributes(lister(withoutStep), 'prod', logger),
      (error: Error) =>
        /lacks the runbooks' search attributes RunbookStep:/.test(error.message) &&
        !/RunbookName/.test(error.message),
    );

    await checkRunbookSearchAttributes(
      lister({ ...all, RunbookStep: IndexedValueType.INDEXED_VALUE_TYPE_TEXT }),
      'prod',
      logger,
    );
    assert.ok(
      warnings.some((message) => /RunbookStep is INDEXED_VALUE_TYPE_TEXT, not Keyword/.test(message)),
    );

    const denied: SearchAttributeLister = {
      listSearchAttributes: () => Promise.reject(new Error('7 PERMISSION_DENIED: Request unauthorized')),
    };
    await checkRunbookSearchAttributes(denied, 'prod', logger);
    assert.ok(warnings.some((message) => /could not read the namespace's search attributes/.test(message)));
  });
});
