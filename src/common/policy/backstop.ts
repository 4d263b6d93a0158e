import { z } from 'zod';
import { channelName, policyHandle, storyIdSchema } from '../names';
import { duration } from './fields';
import { storyGitHubSchema, storyOpenProjectSchema } from './story';

/**
 * One story's program, declared by whoever owns the policy: whom it pages and which trackers and
 * probe it reads. A run's input names only the story and the merge, so nobody starting a program
 * can point its "shipped" probe at any 2xx URL or choose its DRI.
 */
export const storyProgramSchema = z
  .object({
    dri: policyHandle,
    /** Besides the DRI and the policy's deciders, who may record this story's decisions. */
    deciders: z.array(policyHandle).default([]),
    openProject: storyOpenProjectSchema,
    github: storyGitHubSchema,
    consoleRestoreProbeUrl: z.url({ protocol: /^https?$/, message: 'must be an http(s) URL' }),
  })
  .strict();
export type StoryProgram = z.output<typeof storyProgramSchema>;

/** Seed 001 §6.bis: the T+30/60/90/120 backstop program of a story. */
export const backstopPolicySchema = z
  .object({
    /** The OpenProject and GitHub channels (notifications.channels) the checks read and write. */
    openProjectChannel: channelName.default('openproject'),
    gitHubChannel: channelName.default('github'),
    /** Besides the story's DRI, who may record a decision. */
    deciders: z.array(policyHandle).default([]),
    /** The story programs this worker runs, by story id (a program of another story is refused). */
    stories: z.record(storyIdSchema, storyProgramSchema).default({}),
    /** How long the T+90 decision may stay open before the DRI is escalated to again (and again). */
    decisionWindow: duration.prefault('48h'),
    /** The Console restore probe: one GET, no retry through another route (seed 001). */
    probeTimeout: duration.prefault('10s'),
    /** How long a checkpoint whose evidence cannot be read waits before reading again. */
    evidenceRetryInterval: duration.prefault('1h'),
    /** OpenProject status names (seed 001). */
    newStatus: z.string().min(1).default('New'),
    pastInProgress: z
      .array(z.string().min(1))
      .min(1)
      .default(['Developed', 'In testing', 'Tested', 'Closed']),
    shippedStatus: z.string().min(1).default('Closed'),
    /** Run on a revert (argument array, no shell; {story} and {sha} are substituted). Optional. */
    revertCommand: z
      .object({ command: z.array(z.string().min(1)).min(1), timeout: duration.prefault('10m') })
      .strict()
      .optional(),
  })
  .strict();

export type BackstopPolicy = z.output<typeof backstopPolicySchema>;

/** Seed 001: silence is not an outcome; the T+90 decision is asked again at least every 48 h. */
export function checkBackstopFloors(policy: BackstopPolicy, ctx: z.RefinementCtx): void {
  if (policy.decisionWindow > 48 * 3_600_000)
    ctx.addIssue({
      code: 'custom',
      path: ['runbooks', 'backstop', 'decisionWindow'],
      message: 'must be at most 48h (seed 001: silent extension is not an outcome)',
    });
}
