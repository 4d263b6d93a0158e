import type { ChannelConfig, ChannelType, NotificationsPolicy } from '../common/policy';
import { ConfigurationError } from '../common/errors';

/**
 * The policy's channels with their secrets read from the worker's environment. Only the worker
 * holds this: workflows name channels, never URLs or keys, so no secret reaches history.
 */

type SecretFields = {
  slack: { webhookUrl: string };
  pagerduty: { routingKey: string };
  email: { user?: string; password?: string };
  webhook: { url: string };
  statuspage: { apiKey: string };
  github: { token: string };
  openproject: { apiKey: string };
  log: Record<string, never>;
};

export type ResolvedChannel<T extends ChannelType = ChannelType> = {
  name: string;
  config: Extract<ChannelConfig, { type: T }>;
  secrets: SecretFields[T];
};

export class ChannelRegistry {
  constructor(
    private readonly channels: Map<string, ResolvedChannel>,
    readonly directory: Record<string, string>,
    /** Every secret value, so errors and logs can be scrubbed of them. */
    readonly secretValues: string[],
  ) {}

  get<T extends ChannelType>(name: string, type: T): ResolvedChannel<T> {
    const channel = this.channels.get(name);
    if (!channel) throw new ConfigurationError(`channel "${name}" is not configured on this worker`);
    if (channel.config.type !== type) {
      throw new ConfigurationError(`channel "${name}" is a ${channel.config.type} channel, not ${type}`);
    }
    return channel as unknown as ResolvedChannel<T>;
  }

  names(): string[] {
    return [...this.channels.keys()];
  }
}

/** Reads every channel's secrets; all missing variables are reported at once. */
export function resolveChannels(notifications: NotificationsPolicy, env: NodeJS.ProcessEnv): ChannelRegistry {
  const missing: string[] = [];
  const secretValues: string[] = [];
  const read = (channel: string, variable: string): string => {
    const value = env[variable];
    if (value === undefined || value.trim() === '') {
      missing.push(`${variable} (secret of channel "${channel}")`);
      return '';
    }
    secretValues.push(value);
    return value;
  };
  const channels = new Map<string, ResolvedChannel>();
  for (const [name, config] of Object.entries(notifications.channels)) {
    let secrets: SecretFields[ChannelType];
    switch (config.type) {
      case 'log':
        secrets = {};
        break;
      case 'slack':
        secrets = { webhookUrl: read(name, config.webhookUrlEnv) };
        break;
      case 'pagerduty':
        secrets = { routingKey: read(name, config.routingKeyEnv) };
        break;
      case 'email':
        secrets =
          config.userEnv && config.passwordEnv
            ? { user: read(name, config.userEnv), password: read(name, config.passwordEnv) }
            : {};
        break;
      case 'webhook':
        secrets = { url: read(name, config.urlEnv) };
        break;
      case 'statuspage':
        secrets = { apiKey: read(name, config.apiKeyEnv) };
        break;
      case 'github':
        secrets = { token: read(name, config.tokenEnv) };
        break;
      case 'openproject':
        secrets = { apiKey: read(name, config.apiKeyEnv) };
        break;
    }
    channels.set(name, { name, config, secrets });
  }
  if (missing.length > 0) {
    throw new ConfigurationError(
      `The policy's channels need secrets the worker's environment does not have:\n${missing.map((m) => `  ${m}`).join('\n')}`,
    );
  }
  return new ChannelRegistry(channels, notifications.directory, secretValues);
}

/** Replaces every secret value (and its URL-encoded form) in `text` with "***". */
export function redact(text: string, secrets: readonly string[]): string {
  let result = text;
  for (const secret of secrets) {
    if (secret.length < 4) continue;
    for (const form of new Set([secret, encodeURIComponent(secret)])) {
      result = result.split(form).join('***');
    }
  }
  return result;
}
