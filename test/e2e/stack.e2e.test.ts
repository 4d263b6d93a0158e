import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { freePort, isPortFree, scratchDir } from '../../src/local/servers';
import { stackProcessesFile, stopLeftoverProcesses } from '../../src/local/stack-leftovers';
import { spawnNode, type ChildHandle } from '../fixtures/processes';

/**
 * The README's first command brings up the whole local stack: the Temporal dev server with its
 * Web UI (workflow start enabled), embedded Postgres with the demo target and the worker. Here it
 * runs on free ports and a scratch state directory, and is driven with the project's CLI.
 */

const running: ChildHandle[] = [];
const stackDirs: string[] = [];
after(async () => {
  for (const handle of running) {
    handle.child.kill('SIGKILL');
    await handle.exited();
  }
  // Servers a stack killed here could not stop (they run detached): stopped as the next stack would.
  for (const dir of stackDirs) await stopLeftoverProcesses(dir, () => undefined);
});

/**
 * Starts the stack on free ports and a scratch state directory. A port found free here can be
 * bound by another test's server before the stack binds it (the suite runs files in parallel):
 * then the stack stops at once, as it should for a port an operator chose, and this tries again
 * on other ports (at most three times).
 */
async function startStack() {
  for (let attempt = 1; ; attempt++) {
    const stackDir = path.join(scratchDir('runbooks-stack'), 'state');
    stackDirs.push(stackDir);
    const [temporalPort, uiPort, pgPort, codecPort] = [
      await freePort(),
      await freePort(),
      await freePort(),
      await freePort(),
    ];
    // Always the embedded Postgres here, even when the suite runs against a DATABASE_URL.
    const stackEnv = {
      RUNBOOKS_STACK_DIR: stackDir,
      STACK_TEMPORAL_PORT: String(temporalPort),
      STACK_UI_PORT: String(uiPort),
      STACK_PG_PORT: String(pgPort),
      STACK_CODEC_PORT: String(codecPort),
      DATABASE_URL: undefined,
    };
    const stack = spawnNode('dist/src/stack/main.js', [], stackEnv);
    running.push(stack);
    try {
      await stack.waitFor(/Durable Runbooks local stack is up/, 120_000);
      return { stack, stackDir, stackEnv, uiPort, codecPort, temporalPort, pgPort };
    } catch (error) {
      if (attempt >= 3 || !/address already in use/.test(stack.output())) throw error;
      await stack.exited();
    }
  }
}

/**
 * The CLI's environment with nothing naming a server: it finds the stack through its connection
 * file, whatever its ports, and its payload keys the same way (the stack generated them).
 */
function cliEnvFor(stackDir: string): Record<string, string | undefined> {
  return {
    TEMPORAL_ADDRESS: undefined,
    TEMPORAL_NAMESPACE: undefined,
    TEMPORAL_PROFILE: undefined,
    TEMPORAL_CONFIG_FILE: undefined,
    RUNBOOKS_STACK_DIR: stackDir,
    RUNBOOKS_PAYLOAD_KEYS: undefined,
  };
}

describe('the local stack (npm run stack)', () => {
  test('comes up, serves the UI and Procedure A, keeps state across a restart, stops on Ctrl-C', async () => {
    const { stack, stackDir, stackEnv, uiPort, codecPort, temporalPort } = await startStack();
    assert.match(stack.output(), /demo target created: 6 history rows, live version 2026\.11\.23-1/);
    assert.match(stack.output(), new RegExp(`Temporal Web UI: +http://127\\.0\\.0\\.1:${uiPort}`));
    // The banner links to the UI's Start Workflow form with the id, queue and type filled in.
    assert.match(
      stack.output(),
      new RegExp(
        `http://127\\.0\\.0\\.1:${uiPort}/namespaces/default/workflows/start-workflow\\?workflowId=break-glass-restore-INC-4711&taskQueue=runbooks&workflowType=breakGlassRestore`,
      ),
    );
    assert.match(stack.output(), /Drill logs: .*drill-logs/);
    assert.ok(existsSync(path.join(stackDir, 'connection.json')), 'the stack says where it listens');
    // Payloads are encrypted locally as in production: a key generated into the state folder
    // (owner-only), a codec server the UI decodes through (CORS for the UI's origin).
    const keysFile = path.join(stackDir, 'payload-keys');
    assert.equal(statSync(keysFile).mode & 0o077, 0, 'the key file is owner-only');
    assert.match(stack.output(), new RegExp(`codec server: http://127\\.0\\.0\\.1:${codecPort}`));
    const preflight = await fetch(`http://127.0.0.1:${codecPort}/decode`, {
      method: 'OPTIONS',
      headers: { Origin: `http://localhost:${uiPort}`, 'Access-Control-Request-Method': 'POST' },
    });
    assert.equal(preflight.status, 204);

    // A second stack on the same ports stops at once, before building anything.
    const second = spawnNode('scripts/stack.mjs', [], stackEnv);
    assert.equal(await second.exited(), 1, second.output());
    assert.match(
      second.output(),
      new RegExp(`port ${temporalPort} \\(Temporal frontend\\) is already in use`),
    );
    // …naming the running stack's pid (a stack whose terminal is gone is stopped by it).
    assert.match(second.output(), new RegExp(`the stack is already running \\(pid ${stack.child.pid}:`));
    assert.doesNotMatch(second.output(), /compiling TypeScript|npm ci/);

    const settings = (await (await fetch(`http://127.0.0.1:${uiPort}/api/v1/settings`)).json()) as {
      StartWorkflowDisabled: boolean;
    };
    assert.equal(settings.StartWorkflowDisabled, false, 'starting workflows from the UI is enabled');

    const cliEnv = cliEnvFor(stackDir);
    const start = spawnNode(
      'dist/src/cli/main.js',
      [
        'start-restore',
        '--incident',
        'INC-SMOKE',
        '--target',
        '5',
        '--requested-by',
        '@alice',
        '--rationale',
        'smoke test',
        '--dry-run',
      ],
      cliEnv,
    );
    assert.equal(await start.exited(), 0, start.output());
    const result = spawnNode('dist/src/cli/main.js', ['result', '--incident', 'INC-SMOKE'], cliEnv);
    assert.equal(await result.exited(), 0, result.output());
    const parsed = JSON.parse(result.output()) as { outcome: string; plan: { diff: { changed: number } } };
    assert.equal(parsed.outcome, 'dry_run');
    assert.equal(parsed.plan.diff.changed, 1);
    const listed = spawnNode('dist/src/cli/main.js', ['list', '--incident', 'INC-SMOKE', '--json'], cliEnv);
    assert.equal(await listed.exited(), 0, listed.output());
    const runs = JSON.parse(listed.output()) as { workflowId: string; runbook: string; outcome?: string }[];
    assert.deepEqual(
      runs.map((run) => [run.workflowId, run.runbook, run.outcome]),
      [['break-glass-restore-INC-SMOKE', 'breakGlassRestore', 'dry_run']],
    );

    stack.child.kill('SIGINT');
    assert.equal(await stack.exited(), 0, stack.output());
    assert.ok(existsSync(path.join(stackDir, 'temporal.sqlite')));
    assert.ok(
      !existsSync(path.join(stackDir, 'connection.json')),
      'a stopped stack leaves no address behind',
    );

    // Restart: the run is still there (persistent SQLite), the demo target is not re-seeded.
    const again = spawnNode('dist/src/stack/main.js', [], stackEnv);
    running.push(again);
    await again.waitFor(/Durable Runbooks local stack is up/, 120_000);
    assert.match(again.output(), /target present: 6 history rows/);
    const status = spawnNode('dist/src/cli/main.js', ['status', '--incident', 'INC-SMOKE'], cliEnv);
    assert.equal(await status.exited(), 0, status.output());
    assert.match(status.output(), /outcome: dry_run/);
    again.child.kill('SIGINT');
    assert.equal(await again.exited(), 0, again.output());
  });
  test('a second Ctrl-C does not leave its servers running; what a killed stack left, the next one stops; a dev server killed under it comes back', async () => {
    const { stack, stackDir, stackEnv, temporalPort, pgPort } = await startStack();
    const serversGone = async (): Promise<void> => {
      assert.ok(await isPortFree(temporalPort), `Temporal still listens on ${temporalPort}`);
      assert.ok(await isPortFree(pgPort), `Postgres still listens on ${pgPort}`);
      assert.ok(!existsSync(stackProcessesFile(stackDir)), 'the stack forgot what it had started');
    };
    // An impatient operator (or a wrapper forwarding the terminal's Ctrl-C): two SIGINTs. Before,
    // the second found no handler and ended the stack mid-stop; Temporal and Postgres (detached)
    // kept its ports, and every later start refused ("is the stack already running?").
    stack.child.kill('SIGINT');
    await new Promise((resolve) => setTimeout(resolve, 200));
    stack.child.kill('SIGINT');
    assert.equal(await stack.exited(), 0, stack.output());
    assert.match(stack.output(), /already stopping/);
    await serversGone();

    // A stack killed outright leaves them running; the next stack stops them and comes up.
    const killed = spawnNode('dist/src/stack/main.js', [], stackEnv);
    running.push(killed);
    await killed.waitFor(/Durable Runbooks local stack is up/, 120_000);
    killed.child.kill('SIGKILL');
    await killed.exited();
    assert.ok(!(await isPortFree(temporalPort)), 'the killed stack left the Temporal dev server running');
    const next = spawnNode('dist/src/stack/main.js', [], stackEnv);
    running.push(next);
    await next.waitFor(/Durable Runbooks local stack is up/, 120_000);
    for (const what of ['the worker', 'the Temporal dev server', 'Postgres'])
      assert.match(next.output(), new RegExp(`stopping ${what} \\(pid \\d+\\) left running by a stack`));

    // A dev server that dies under a running stack is started again, with its state. Before, the
    // stack stayed "up" with a worker retrying forever and a CLI that could not connect.
    const recorded = JSON.parse(readFileSync(stackProcessesFile(stackDir), 'utf8')) as {
      processes: { what: string; pid: number }[];
    };
    const temporal = recorded.processes.find((entry) => entry.what === 'the Temporal dev server')!;
    process.kill(temporal.pid, 'SIGKILL');
    await next.waitFor(/the Temporal dev server exited \(signal SIGKILL\); starting it again/, 30_000);
    await next.waitFor(/the Temporal dev server is running again/, 120_000);
    const listed = spawnNode('dist/src/cli/main.js', ['list', '--json'], cliEnvFor(stackDir));
    assert.equal(await listed.exited(), 0, listed.output());

    next.child.kill('SIGINT');
    assert.equal(await next.exited(), 0, next.output());
    await serversGone();
  });
});
