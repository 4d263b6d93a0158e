import path from 'node:path';
import type { PolicyFile } from '../../../src/common/policy';
import { startSinks, statusPageChannel, type Sinks } from '../../fixtures/channels';
import { createTestDatabase, type TestDatabase } from '../../fixtures/database';
import { GITHUB_REPOSITORY } from '../../fixtures/sinks/apis';
import { HttpSink } from '../../fixtures/sinks/http-sink';
import { prometheusSink, type PrometheusSink } from '../../fixtures/sinks/prometheus';
import type { WorkflowSuite } from '../../fixtures/suite';

/** Everything the runbooks of the fault matrix talk to, started once for the file. */
export interface MatrixWorld {
  suite: WorkflowSuite;
  tmp: string;
  sinks: Sinks;
  prometheus: PrometheusSink;
  /** The Console (Procedure B); down unless a scenario brings it back. */
  consoleSite: HttpSink;
  /** The backstop's Console restore probe: its HTTP status. */
  restoreProbe: { sink: HttpSink; status: number };
  /** The drill's staging copy. */
  staging: TestDatabase;
  /** Where the backstop's revert command appends a line per run. */
  revertLog: string;
}

/** Starts the world's servers (local stand-ins, a staging database) for a test file. */
export async function startMatrixWorld(tmp: string): Promise<Omit<MatrixWorld, 'suite'>> {
  const restoreProbe = { status: 503 } as MatrixWorld['restoreProbe'];
  const [sinks, prometheus, consoleSite, probeSink, staging] = await Promise.all([
    startSinks(tmp),
    prometheusSink(),
    HttpSink.start(() => ({ status: 200, body: '<html>Console</html>' })),
    HttpSink.start(() => ({ status: restoreProbe.status, body: 'restore' })),
    createTestDatabase(),
  ]);
  restoreProbe.sink = probeSink;
  return {
    tmp,
    sinks,
    prometheus,
    consoleSite,
    restoreProbe,
    staging,
    revertLog: path.join(tmp, 'reverts.log'),
  };
}

export async function stopMatrixWorld(world: Omit<MatrixWorld, 'suite'> | undefined): Promise<void> {
  await Promise.all([
    world?.sinks.stop(),
    world?.prometheus.stop(),
    world?.consoleSite.stop(),
    world?.restoreProbe.sink.stop(),
    world?.staging.drop(),
  ]);
}

/**
 * Every notice goes to the log; pages also reach PagerDuty (the paging channel). The trackers
 * (OpenProject, GitHub) are the local sinks; the Console and the revert command are the world's.
 */
export function matrixPolicy(world: Omit<MatrixWorld, 'suite' | 'staging'>, policy: PolicyFile): void {
  const { sinks } = world;
  policy.notifications = {
    channels: {
      log: { type: 'log' },
      pagerduty: {
        type: 'pagerduty',
        routingKeyEnv: 'PAGERDUTY_ROUTING_KEY',
        eventsUrl: `${sinks.pagerDuty.url}/v2/enqueue`,
        timeout: '2s',
      },
      github: {
        type: 'github',
        apiUrl: sinks.gitHub.url,
        repository: GITHUB_REPOSITORY,
        tokenEnv: 'GITHUB_TOKEN',
        timeout: '2s',
      },
      openproject: {
        type: 'openproject',
        baseUrl: sinks.openProject.url,
        apiKeyEnv: 'OPENPROJECT_API_KEY',
        timeout: '2s',
      },
      statuspage: statusPageChannel(sinks),
    },
    routes: { default: ['log'] },
  };
  policy.console = {
    url: `${world.consoleSite.url}/`,
    kubeContext: 'test-cluster',
    namespace: 'cvntrade',
    podSelector: 'app=console',
    probeTimeout: '2s',
  };
  policy.runbooks.incident = {
    responders: ['@sre-lead'],
    statusPage: { channel: 'statuspage', service: 'Orchestrator' },
  };
  policy.runbooks.backstop = {
    revertCommand: {
      command: [
        process.execPath,
        '-e',
        "require('fs').appendFileSync(process.argv[1], process.argv[2] + '\\n')",
        world.revertLog,
        'revert {story} {sha}',
      ],
      timeout: '30s',
    },
  };
}

/** The incident's freezes as the matrix compares them: "freeze lifted" or "freeze in force". */
export async function freezeStates(world: MatrixWorld, incidentId: string): Promise<string[]> {
  const { rows } = await world.suite.db.pool.query<{ lifted: boolean }>(
    'SELECT lifted_at IS NOT NULL AS lifted FROM change_freezes WHERE incident_id = $1',
    [incidentId],
  );
  return rows.map((row) => `freeze ${row.lifted ? 'lifted' : 'in force'}`);
}
