import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { WorkflowHandle } from '@temporalio/client';
import { chromium, type Browser, type Locator, type Page } from 'playwright-core';
import { signDecision } from '../../src/cli/sign';
import { REPO_ROOT } from '../../src/local/paths';
import { scratchDir } from '../../src/local/servers';
import type { LoadedPolicy } from '../../src/worker/policy';
import type { breakGlassRestore } from '../../src/workflows';
import type { BreakGlassRestoreStatus } from '../../src/workflows/break-glass-restore/definitions';
import { activityDeps, shortTestPolicy, withRestorePolicy } from '../fixtures/policy';
import { workflowSuite } from '../fixtures/suite';
import { sshKeyPair, sshPublicKey } from '../fixtures/signing';
import { uniqueId } from '../fixtures/temporal';
import { payloadsInClear } from '../fixtures/history';
import { atStep, waitForStatus } from '../fixtures/wait';

/**
 * The approval as an approver does it in the dev server's Web UI, driven by Debian's chromium
 * through playwright-core: start breakGlassRestore from the Start Workflow form, read the
 * `status` query, send `approve` as an Update with a wrong hash (the refusal is shown in the
 * dialog), then the signed approval (accepted); the run reaches its pause. Payloads are encrypted:
 * the UI encodes and decodes them through the tests' codec server. Screenshots of each
 * step go to test-results/web-ui/ (git-ignored); their paths are printed.
 */

const MINUTE = 60_000;
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const APPROVER = '@oncall-lead';
const suite = workflowSuite({ server: 'dev', ui: true, queuePrefix: 'tq-ui' });
const shots = path.join(REPO_ROOT, 'test-results', 'web-ui');
let browser: Browser;
let policy: LoadedPolicy;
let approverKey = '';

before(async () => {
  mkdirSync(shots, { recursive: true });
  approverKey = sshKeyPair(scratchDir('runbooks-web-ui'), 'oncall-lead');
  // Signatures required, one approver; a pause long enough to be seen in the UI.
  const base = withRestorePolicy(shortTestPolicy(), {
    approvers: [APPROVER],
    soleOperator: false,
    requireSignedApprovals: true,
    signatureMaxAge: 15 * MINUTE,
    approvalTimeout: 15 * MINUTE,
    pause: 10 * MINUTE,
  });
  policy = {
    ...base,
    policy: {
      ...base.policy,
      signers: { [APPROVER]: [sshPublicKey(approverKey)] },
    },
  };
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
});
after(async () => {
  await browser?.close();
});

let shot = 0;
async function screenshot(page: Page, name: string): Promise<void> {
  shot += 1;
  const file = path.join(shots, `${String(shot).padStart(2, '0')}-${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  process.stdout.write(`screenshot: ${file}\n`);
}

/**
 * Types into one of the UI's CodeMirror JSON editors (`fill()` does not reach them), then clicks
 * outside it: the first click after typing only blurs the editor while the buttons below move.
 */
async function typeJson(page: Page, editor: Locator, value: unknown, outside: Locator): Promise<void> {
  await editor.click();
  await page.keyboard.press('Control+A');
  await page.keyboard.insertText(JSON.stringify(value));
  await outside.click();
}

/** Opens "Send an Update" on the workflow page with `approve` chosen; returns the dialog. */
async function openApproveUpdate(page: Page): Promise<Locator> {
  await page.getByRole('button', { name: 'More Actions' }).click();
  await page.getByRole('menuitem', { name: 'Send an Update' }).first().click();
  const heading = page.locator('h3', { hasText: 'Send an Update' }).filter({ visible: true });
  const dialog = page.locator('dialog[open]').filter({ has: heading });
  await dialog.locator('[data-testid=update-select-button]').click();
  await page.getByRole('option', { name: 'approve', exact: true }).filter({ visible: true }).click();
  return dialog;
}

/** Pastes `payload` as the Update's data (as an approver pastes the status's argument) and submits. */
async function submitUpdate(page: Page, dialog: Locator, payload: unknown, name: string): Promise<void> {
  // Not the heading: a click there closes the dialog.
  await typeJson(
    page,
    dialog.locator('.cm-content'),
    payload,
    dialog.getByText('Single JSON payload supported.'),
  );
  await screenshot(page, `${name}-filled`);
  await dialog.getByRole('button', { name: 'Submit' }).click();
}

async function status(handle: WorkflowHandle): Promise<BreakGlassRestoreStatus> {
  return handle.query<BreakGlassRestoreStatus>('status');
}

describe('approval in the Web UI (dev server, chromium)', () => {
  test('start from the form, read status, a wrong hash is refused in the dialog, the signed approval is accepted, the run pauses', async () => {
    await suite.withWorker(activityDeps(policy, suite.db.pool), async (taskQueue) => {
      const ui = suite.devServer.uiUrl!;
      const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
      const incidentId = uniqueId('INC');
      const workflowId = `break-glass-restore-${incidentId}`;
      const handle = suite.env.client.workflow.getHandle<typeof breakGlassRestore>(workflowId);
      try {
        // 1. Start it from the Start Workflow form.
        await page.goto(`${ui}/namespaces/default/workflows/start-workflow`);
        await page.getByTestId('workflowId').fill(workflowId);
        await page.getByTestId('taskQueue').fill(taskQueue);
        await page.getByTestId('workflowType').fill('breakGlassRestore');
        await typeJson(
          page,
          page.locator('.cm-content').first(),
          { incidentId, targetHistoryId: 5, requestedBy: '@alice', rationale: 'typo 0.0 in LGB 5M' },
          page.getByRole('heading', { name: 'Start Workflow' }),
        );
        await screenshot(page, 'start-form');
        await page.getByTestId('start-workflow-button').click();
        const gate = await waitForStatus<BreakGlassRestoreStatus>(
          handle,
          atStep('awaiting_approval'),
          'the approval gate of the run started from the UI',
        );
        const planHash = gate.detail.plan!.planHash;

        // 2. The status query: the approval block comes first, with the full planHash.
        await page.goto(`${ui}/namespaces/default/workflows/${workflowId}`);
        await page.getByTestId('queries-tab').click();
        await page.getByRole('button', { name: 'Run Query' }).click();
        const answer = page.locator('.cm-content').filter({ hasText: '"approval"' }).last();
        await answer.waitFor();
        const shown = await answer.innerText();
        assert.match(shown, /"approval"/);
        assert.ok(
          shown.replace(/\s/g, '').includes(planHash),
          'the full planHash is shown in the query answer',
        );
        assert.ok(shown.indexOf('"approval"') < shown.indexOf('"runbook"'), 'the approval block comes first');
        await screenshot(page, 'status-query');

        // 3. approve as an Update with a wrong hash (signed, as the CLI's signText would be):
        // refused, and the dialog says why with both full hashes.
        const sign = async (hash: string) =>
          signDecision(approverKey, {
            namespace: 'default',
            workflowId,
            decision: 'approve',
            planHash: hash,
          });
        const wrong = planHash.replace(/^./, (c) => (c === '0' ? '1' : '0'));
        const dialog = await openApproveUpdate(page);
        await submitUpdate(
          page,
          dialog,
          { approver: APPROVER, planHash: wrong, ...(await sign(wrong)) },
          'approve-wrong-hash',
        );
        const refusal = dialog.getByText(/REFUSED \(plan_hash_mismatch\)/);
        await refusal.waitFor({ timeout: 30_000 });
        const refusalText = await refusal.innerText();
        assert.ok(refusalText.includes(wrong) && refusalText.includes(planHash), refusalText);
        await screenshot(page, 'approve-wrong-hash-refused');
        assert.equal((await status(handle)).step, 'awaiting_approval');

        // 4. The right hash, signed by the approver's key: accepted (the dialog closes).
        await submitUpdate(
          page,
          dialog,
          { approver: APPROVER, planHash, ...(await sign(planHash)) },
          'approve-signed',
        );
        await page.getByText('Update successful').first().waitFor({ timeout: 30_000 });
        await dialog.waitFor({ state: 'hidden' });
        await screenshot(page, 'approve-signed-accepted');

        // 5. The run reaches seed 000's pause; the status query in the UI shows it.
        const paused = await waitForStatus<BreakGlassRestoreStatus>(
          handle,
          atStep('pause_and_think'),
          'the pause',
        );
        assert.equal(paused.approval?.state, 'approved');
        await page.getByRole('button', { name: 'Refresh Query' }).click();
        await page.locator('.cm-content').filter({ hasText: '"pause_and_think"' }).last().waitFor();
        await screenshot(page, 'paused');
        // What the UI showed decoded is sealed in the history: the input the UI sent was encoded
        // through the codec server, and every result and update since by the worker and client.
        assert.deepEqual(await payloadsInClear(handle), []);
      } finally {
        await handle.terminate('web UI test over').catch(() => undefined);
        await page.close();
      }
    });
  });
});
