import { z } from 'zod';
import { repositorySchema } from '../names';
import { sharedSchemas } from '../shared-schemas';

// Imported by workflow code (a backstop start input may name its story's trackers): kept apart
// from the policy file's schema, which would otherwise be built in every workflow instance.

export const { storyOpenProjectSchema, storyGitHubSchema } = sharedSchemas('common/policy/story', () => ({
  /** The story's Epic and its own work package in OpenProject. */
  storyOpenProjectSchema: z
    .object({ epicId: z.number().int().positive(), storyWorkPackageId: z.number().int().positive() })
    .strict(),

  /** Where the story's gate-failure issues live on GitHub. */
  storyGitHubSchema: z
    .object({
      repository: repositorySchema,
      gateFailureLabel: z.string().min(1).max(50).default('gate-failure'),
      /** Text the gate-failure search looks for (default: the story id). */
      search: z.string().min(1).max(200).optional(),
    })
    .strict(),
}));
