import { z } from 'zod';
import { MAX_DELIVERIES_IN_FLIGHT_CEILING, NOTICE_KINDS, PAGING_NOTICE_KINDS } from '../notice';
import { channelName, envName, repositorySchema } from '../names';
import { callTimeout as timeout, endpointUrl } from './fields';

/**
 * Notification channels and trackers. Secrets are never in the policy: it names the environment
 * variable that holds each one, and the worker reads it at start.
 */

const logChannel = z.object({ type: z.literal('log') }).strict();
const slackChannel = z.object({ type: z.literal('slack'), webhookUrlEnv: envName, timeout }).strict();
const pagerDutyChannel = z
  .object({
    type: z.literal('pagerduty'),
    routingKeyEnv: envName,
    eventsUrl: endpointUrl.default('https://events.pagerduty.com/v2/enqueue'),
    source: z.string().min(1).default('durable-runbooks'),
    timeout,
  })
  .strict();
const emailChannel = z
  .object({
    type: z.literal('email'),
    host: z.string().min(1),
    port: z.number().int().min(1).max(65_535),
    /** starttls: upgrade a plain connection (587); tls: implicit TLS (465); none: loopback only. */
    security: z.enum(['starttls', 'tls', 'none']),
    userEnv: envName.optional(),
    passwordEnv: envName.optional(),
    from: z.email(),
    /** Recipients for notices not addressed to the approvers. */
    to: z.array(z.email()).min(1),
    /** Extra CA certificate (PEM file) to trust, e.g. an internal relay's. */
    caFile: z.string().min(1).optional(),
    timeout,
  })
  .strict()
  .refine(
    (channel) => channel.security !== 'none' || ['127.0.0.1', 'localhost', '::1'].includes(channel.host),
    {
      message: 'security "none" is only allowed to a loopback relay',
      path: ['security'],
    },
  )
  .refine((channel) => (channel.userEnv === undefined) === (channel.passwordEnv === undefined), {
    message: 'userEnv and passwordEnv go together',
    path: ['passwordEnv'],
  });
const webhookChannel = z.object({ type: z.literal('webhook'), urlEnv: envName, timeout }).strict();
const statusPageChannel = z
  .object({
    type: z.literal('statuspage'),
    baseUrl: endpointUrl.default('https://api.statuspage.io/v1'),
    pageId: z.string().regex(/^[A-Za-z0-9]+$/, 'must be the Statuspage page id'),
    apiKeyEnv: envName,
    timeout,
  })
  .strict();
const gitHubChannel = z
  .object({
    type: z.literal('github'),
    apiUrl: endpointUrl.default('https://api.github.com'),
    repository: repositorySchema,
    tokenEnv: envName,
    timeout,
  })
  .strict();
const openProjectChannel = z
  .object({ type: z.literal('openproject'), baseUrl: endpointUrl, apiKeyEnv: envName, timeout })
  .strict();

export const channelSchema = z.union([
  logChannel,
  slackChannel,
  pagerDutyChannel,
  emailChannel,
  webhookChannel,
  statusPageChannel,
  gitHubChannel,
  openProjectChannel,
]);

/** Channels a notice can be routed to (trackers and the status page are driven by their own steps). */
export const NOTICE_CHANNEL_TYPES = ['log', 'slack', 'pagerduty', 'email', 'webhook'] as const;

function isNoticeChannel(channel: { type: string } | undefined): boolean {
  return channel !== undefined && (NOTICE_CHANNEL_TYPES as readonly string[]).includes(channel.type);
}

export const notificationsSchema = z
  .object({
    channels: z.record(channelName, channelSchema),
    /** Notice kind → channels; "default" applies to every kind not listed. */
    routes: z.record(z.string().min(1), z.array(channelName).min(1)).refine((routes) => 'default' in routes, {
      message: 'needs a "default" route',
    }),
    /** Where a notice goes when every channel of its route failed. */
    fallback: channelName.optional(),
    /**
     * The channels that page: every notice that pages goes there as well as to its route. Default:
     * every pagerduty channel of the policy.
     */
    paging: z.array(channelName).optional(),
    /**
     * Deliveries one run keeps in flight at once (default 500; more wait their turn). Keep it under
     * your cluster's `limit.numPendingActivities.error` (2,000 by default) less a run's own
     * activities: past that limit Temporal fails the run's every workflow task.
     */
    maxDeliveriesInFlight: z.number().int().min(1).max(MAX_DELIVERIES_IN_FLIGHT_CEILING).optional(),
    /** Handle → email address, for notices addressed to people (approval requests go to the roster). */
    directory: z.record(z.string().regex(/^@?[A-Za-z0-9][A-Za-z0-9._-]*$/), z.email()).default({}),
  })
  .strict()
  .superRefine((notifications, ctx) => {
    const known = notifications.channels;
    for (const [kind, names] of Object.entries(notifications.routes)) {
      names.forEach((name, index) => {
        const channel = known[name];
        if (!channel) {
          ctx.addIssue({
            code: 'custom',
            path: ['routes', kind, index],
            message: `channel "${name}" is not defined in channels`,
          });
        } else if (!isNoticeChannel(channel)) {
          ctx.addIssue({
            code: 'custom',
            path: ['routes', kind, index],
            message: `channel "${name}" is a ${channel.type} channel; notices go to ${NOTICE_CHANNEL_TYPES.join(', ')} channels`,
          });
        }
      });
    }
    for (const kind of Object.keys(notifications.routes)) {
      if (kind !== 'default' && !(NOTICE_KINDS as readonly string[]).includes(kind)) {
        ctx.addIssue({
          code: 'custom',
          path: ['routes', kind],
          message: `"${kind}" is not a notice kind (a typo?); the kinds are listed in src/common/notice.ts`,
        });
      }
    }
    (notifications.paging ?? []).forEach((name, index) => {
      if (!isNoticeChannel(known[name]))
        ctx.addIssue({
          code: 'custom',
          path: ['paging', index],
          message: `"${name}" is not a defined notice channel`,
        });
    });
    checkPagersReachable(notifications, ctx);
    if (notifications.fallback && !isNoticeChannel(known[notifications.fallback])) {
      ctx.addIssue({
        code: 'custom',
        path: ['fallback'],
        message: `"${notifications.fallback}" is not a defined notice channel`,
      });
    }
  });

/** The channels that page: the policy's `paging`, or every pagerduty channel. */
export function pagingChannels(notifications: {
  channels: Record<string, { type: string }>;
  paging?: string[] | undefined;
}): string[] {
  return (
    notifications.paging ??
    Object.entries(notifications.channels)
      .filter(([, channel]) => channel.type === 'pagerduty')
      .map(([name]) => name)
  );
}

/** With a pager in the policy, every kind of notice that pages must be able to reach one. */
function checkPagersReachable(
  notifications: {
    channels: Record<string, { type: string }>;
    routes: Record<string, string[]>;
    paging?: string[] | undefined;
  },
  ctx: z.RefinementCtx,
): void {
  const pagers = Object.entries(notifications.channels)
    .filter(([, channel]) => channel.type === 'pagerduty')
    .map(([name]) => name);
  if (pagers.length === 0) return;
  const paging = pagingChannels(notifications);
  const unreachable = PAGING_NOTICE_KINDS.filter((kind) => {
    const route = notifications.routes[kind] ?? notifications.routes.default ?? [];
    return ![...route, ...paging].some((name) => pagers.includes(name));
  });
  if (unreachable.length > 0)
    ctx.addIssue({
      code: 'custom',
      path: ['paging'],
      message: `the policy has a pager (${pagers.join(', ')}) that these escalations cannot reach: ${unreachable.join(', ')}; list it in "paging" (or in their routes)`,
    });
}

export const DEFAULT_NOTIFICATIONS = {
  channels: { log: { type: 'log' as const } },
  routes: { default: ['log'] },
};

export type ChannelConfig = z.output<typeof channelSchema>;
export type ChannelType = ChannelConfig['type'];
export type NoticeChannelType = (typeof NOTICE_CHANNEL_TYPES)[number];
export type NotificationsPolicy = z.output<typeof notificationsSchema>;
