import { z } from 'zod';
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
    if (notifications.fallback && !isNoticeChannel(known[notifications.fallback])) {
      ctx.addIssue({
        code: 'custom',
        path: ['fallback'],
        message: `"${notifications.fallback}" is not a defined notice channel`,
      });
    }
  });

export const DEFAULT_NOTIFICATIONS = {
  channels: { log: { type: 'log' as const } },
  routes: { default: ['log'] },
};

export type ChannelConfig = z.output<typeof channelSchema>;
export type ChannelType = ChannelConfig['type'];
export type NoticeChannelType = (typeof NOTICE_CHANNEL_TYPES)[number];
export type NotificationsPolicy = z.output<typeof notificationsSchema>;
