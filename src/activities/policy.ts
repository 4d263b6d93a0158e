import type { NoticeChannelType, Policy, RunbookName } from '../common/policy';
import { NOTICE_CHANNEL_TYPES, pagingChannels, whyUnserved } from '../common/policy';

/** Where each notice kind goes: channel names and types only (no URLs, no secrets). */
export interface NoticeRouting {
  routes: Record<string, string[]>;
  fallback?: string;
  /** Channels every paging notice goes to as well (absent from snapshots recorded before it existed). */
  paging?: string[];
  channelTypes: Record<string, NoticeChannelType>;
  /** Absent: the policy does not set it (or the snapshot was recorded before it existed). */
  maxDeliveriesInFlight?: number;
}

/**
 * What a workflow reads from the worker's policy at its start. The snapshot lands in the run's
 * history, so the run keeps the rules it started with even if the worker's file changes later.
 */
export interface RunbookPolicySnapshot<K extends RunbookName> {
  story: string;
  seedingChangeReason: string;
  postMortemTarget: string;
  postMortemComment?: Policy['postMortemComment'];
  testOnlyShortDurations: boolean;
  notifications: NoticeRouting;
  /** Absent from snapshots recorded before it existed: use DEFAULT_FAIL_SAFE then. */
  failSafe?: Policy['failSafe'];
  /** The orchestrator deployment (names only; used by RB-LAUNCH-002). */
  orchestrator: Pick<Policy['orchestrator'], 'pilotRepo' | 'pilotReplicas' | 'deployment' | 'namespace'>;
  runbook: Policy['runbooks'][K];
  /**
   * Backstop, asked for one story the policy does not declare: how many it declares (for the
   * refusal's message). `runbook.stories` holds the asked story only, so a run's history and
   * memory do not grow with the policy. Older snapshots (before 2026-12-03, night) have it for every story.
   */
  storiesDeclared?: number;
  /** Backstop: the worker runs release rollbacks (a revert then starts one as a child; absent in older snapshots). */
  releaseRollbackServed?: boolean;
  /** Why this worker's policy cannot serve the runbook (absent: it can, or recorded before the check). */
  unserved?: string;
}

export function noticeRouting(policy: Policy): NoticeRouting {
  const channelTypes: Record<string, NoticeChannelType> = {};
  for (const [name, channel] of Object.entries(policy.notifications.channels)) {
    if ((NOTICE_CHANNEL_TYPES as readonly string[]).includes(channel.type))
      channelTypes[name] = channel.type as NoticeChannelType;
  }
  return {
    routes: policy.notifications.routes,
    ...(policy.notifications.fallback ? { fallback: policy.notifications.fallback } : {}),
    paging: pagingChannels(policy.notifications),
    channelTypes,
    ...(policy.notifications.maxDeliveriesInFlight
      ? { maxDeliveriesInFlight: policy.notifications.maxDeliveriesInFlight }
      : {}),
  };
}

/**
 * What every read of one policy shares: worked out once per policy, not per run started. The
 * worker's policy is loaded once and never changed; stories are not cached (tests declare theirs
 * in place after the worker starts).
 */
interface PolicyDerived {
  routing: NoticeRouting;
  unserved: Map<RunbookName, string | undefined>;
}

const derivedByPolicy = new WeakMap<Policy, PolicyDerived>();

function derivedFrom(policy: Policy): PolicyDerived {
  let derived = derivedByPolicy.get(policy);
  if (!derived) {
    derived = { routing: noticeRouting(policy), unserved: new Map() };
    derivedByPolicy.set(policy, derived);
  }
  return derived;
}

function unservedReason(policy: Policy, runbook: RunbookName): string | undefined {
  const { unserved } = derivedFrom(policy);
  if (!unserved.has(runbook)) unserved.set(runbook, whyUnserved(policy, runbook));
  return unserved.get(runbook);
}

export function createPolicyActivities(deps: { policy: Policy }) {
  return {
    loadRunbookPolicy: <K extends RunbookName>(input: {
      runbook: K;
      /** Backstop only: the one story the run needs from `stories`. */
      storyId?: string;
    }): Promise<RunbookPolicySnapshot<K>> => {
      const { policy } = deps;
      const unserved = unservedReason(policy, input.runbook);
      const oneStory =
        input.runbook === 'backstop' && input.storyId !== undefined ? input.storyId : undefined;
      const { stories } = policy.runbooks.backstop;
      const declared = oneStory !== undefined && Object.hasOwn(stories, oneStory);
      return Promise.resolve({
        story: policy.story,
        seedingChangeReason: policy.seedingChangeReason,
        postMortemTarget: policy.postMortemTarget,
        ...(policy.postMortemComment ? { postMortemComment: policy.postMortemComment } : {}),
        testOnlyShortDurations: policy.testOnlyShortDurations,
        notifications: derivedFrom(policy).routing,
        failSafe: policy.failSafe,
        orchestrator: {
          pilotRepo: policy.orchestrator.pilotRepo,
          pilotReplicas: policy.orchestrator.pilotReplicas,
          deployment: policy.orchestrator.deployment,
          namespace: policy.orchestrator.namespace,
        },
        runbook: (oneStory === undefined
          ? policy.runbooks[input.runbook]
          : {
              ...policy.runbooks.backstop,
              stories: declared ? { [oneStory]: stories[oneStory]! } : {},
            }) as Policy['runbooks'][K],
        // Only for the refusal's message: counting a policy's 10,000 stories per start showed in profiles.
        ...(oneStory === undefined || declared ? {} : { storiesDeclared: Object.keys(stories).length }),
        ...(input.runbook === 'backstop'
          ? { releaseRollbackServed: unservedReason(policy, 'releaseRollback') === undefined }
          : {}),
        ...(unserved ? { unserved } : {}),
      });
    },
  };
}
