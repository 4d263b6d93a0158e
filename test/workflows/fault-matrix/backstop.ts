import { existsSync, readFileSync, rmSync } from 'node:fs';
import { backstopProgram } from '../../../src/workflows';
import {
  backstopWorkflowId,
  recordDecisionSignal,
} from '../../../src/workflows/backstop-program/definitions';
import { IC, type Scenario } from '../../fixtures/fault-matrix';
import { GITHUB_REPOSITORY } from '../../fixtures/sinks/apis';
import type { LoadedPolicy } from '../../../src/worker/policy';
import { declareStory } from '../../fixtures/policy';
import type { MatrixWorld } from './world';

/**
 * The backstop program of seed 001 §6.bis, on the path that touches every system it uses: the
 * Epic stays New and childless, so T+30 asks for a decision, T+60 raises the yellow flag (the DRI
 * records the self-review), T+90 opens the [gate-failure] issue and pages, and the DRI decides to
 * revert: the [revert] issue, the policy's revert command and the comments. 120 days, skipped.
 */

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const EPIC = 149;
const STORY_WP = 153;

interface BackstopDetail {
  awaiting?: { kind: 'self_review' | 't90_decision' };
  evidence: { unavailable?: string[] }[];
}

export function backstopScenario(world: MatrixWorld, policy: LoadedPolicy): Scenario {
  const decided = new Set<string>();
  let story = '';
  /** Comparable across runs: the story id and the instants taken out. */
  const plain = (text: string) => text.replaceAll(story, 'STORY');
  const wps = () => world.sinks.openProject.workPackages;
  return {
    runbook: 'backstopProgram',
    async reset() {
      decided.clear();
      world.sinks.reset();
      world.restoreProbe.status = 503;
      for (const id of [...wps().keys()]) if (id !== STORY_WP) wps().delete(id);
      delete wps().get(STORY_WP)!.parentId; // the story's own work package is not one of the Epic's children
      wps().set(EPIC, { id: EPIC, subject: 'Epic CCP', status: 'New', comments: [] });
      rmSync(world.revertLog, { force: true });
      await Promise.resolve();
    },
    async start(taskQueue, storyId) {
      story = storyId;
      const mergedAt = new Date(await world.suite.env.currentTimeMs()).toISOString().replace(/\.\d+Z$/, 'Z');
      declareStory(policy, storyId, {
        dri: IC,
        openProject: { epicId: EPIC, storyWorkPackageId: STORY_WP },
        github: { repository: GITHUB_REPOSITORY, gateFailureLabel: 'gate-failure' },
        consoleRestoreProbeUrl: `${world.restoreProbe.sink.url}/config/history/restore`,
      });
      return world.suite.env.client.workflow.start(backstopProgram, {
        taskQueue,
        workflowId: backstopWorkflowId(storyId),
        args: [{ storyId, mergeSha: '0b0a9c7f', mergedAt }],
      });
    },
    async drive(handle, status) {
      const wanted = (status.detail as unknown as BackstopDetail).awaiting?.kind;
      if (!wanted || decided.has(wanted)) return false;
      decided.add(wanted);
      await handle.signal(recordDecisionSignal, {
        by: IC,
        decision: wanted === 'self_review' ? 'self_review' : 'revert',
        rationale:
          wanted === 'self_review' ? 'break-glass-only rollback still acceptable' : 'not shipped: revert',
      });
      return true;
    },
    // Days between checkpoints; shorter while a checkpoint reads again or a step waits.
    tick: (status) => (status.step.startsWith('waiting_') ? 5 * DAY : 30 * MINUTE),
    // The backstop changes no target system: its safe state is to stop and ask.
    unsafe: () => Promise.resolve(undefined),
    // What it wrote: comments (work package, first line), issues (title), revert command runs.
    mutations() {
      const comments = [...wps().values()].flatMap((wp) =>
        wp.comments.map((comment) => `wp#${wp.id} ${plain(/\*\*(.+?)\*\*/.exec(comment)?.[1] ?? comment)}`),
      );
      const issues = world.sinks.gitHub.issues.map((issue) => `issue ${plain(issue.title)}`);
      const reverts = existsSync(world.revertLog)
        ? readFileSync(world.revertLog, 'utf8')
            .trim()
            .split('\n')
            .map((line) => `command ${plain(line)}`)
        : [];
      return Promise.resolve([...comments, ...issues, ...reverts].sort());
    },
    success: 'reverted',
    // Evidence that cannot be read pages and is read again every hour until it can be.
    humanPause: {
      shown: (status) =>
        status.step.startsWith('check_') &&
        Boolean((status.detail as unknown as BackstopDetail).evidence.at(-1)?.unavailable),
      resume: () => world.suite.env.sleep(HOUR + MINUTE),
    },
  };
}
