import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ApplicationFailure } from '@temporalio/common';
import { createTransport } from 'nodemailer';
import type { Notice, NoticeReceipt } from '../../common/notice';
import { normalizeHandle } from '../../common/identity';
import { redact, type ResolvedChannel } from '../channels';
import { renderText } from './render';

/**
 * Email over SMTP (nodemailer): implicit TLS or STARTTLS (required, never silently plain),
 * optional auth. The Message-ID is derived from the delivery key so receivers can collapse a
 * repeat; SMTP 5xx replies are permanent (non-retryable), 4xx and connection problems are retried.
 */

export function recipientsFor(
  notice: Notice,
  channel: ResolvedChannel<'email'>,
  directory: Record<string, string>,
): string[] {
  if (notice.recipients?.length) {
    const addressed = notice.recipients
      .map(
        (handle) =>
          directory[handle] ?? directory[`@${normalizeHandle(handle)}`] ?? directory[normalizeHandle(handle)],
      )
      .filter((address): address is string => Boolean(address));
    if (addressed.length > 0) return [...new Set(addressed)];
  }
  return channel.config.to;
}

export async function sendEmail(
  channel: ResolvedChannel<'email'>,
  notice: Notice,
  directory: Record<string, string>,
  secrets: readonly string[],
): Promise<NoticeReceipt> {
  const { config } = channel;
  const transport = createTransport({
    host: config.host,
    port: config.port,
    secure: config.security === 'tls',
    requireTLS: config.security === 'starttls',
    ignoreTLS: config.security === 'none',
    ...(channel.secrets.user && channel.secrets.password
      ? { auth: { user: channel.secrets.user, pass: channel.secrets.password } }
      : {}),
    ...(config.caFile ? { tls: { ca: readFileSync(config.caFile, 'utf8') } } : {}),
    connectionTimeout: config.timeout,
    greetingTimeout: config.timeout,
    socketTimeout: config.timeout,
  });
  const to = recipientsFor(notice, channel, directory);
  const messageId = `<${createHash('sha256').update(notice.deliveryKey).digest('hex').slice(0, 32)}@durable-runbooks>`;
  try {
    const info = await transport.sendMail({
      from: config.from,
      to,
      subject: notice.subject,
      text: renderText(notice),
      messageId,
      headers: { 'X-Runbook-Delivery-Key': notice.deliveryKey, 'X-Runbook-Incident': notice.incidentId },
    });
    return {
      deliveryKey: notice.deliveryKey,
      channel: channel.name,
      duplicate: false,
      reference: info.messageId,
    };
  } catch (error) {
    const smtp = error as Error & { responseCode?: number; code?: string; response?: string };
    const permanent = typeof smtp.responseCode === 'number' && smtp.responseCode >= 500;
    const message = redact(
      `${channel.name}: send email to ${to.join(', ')}: ${smtp.responseCode ? `SMTP ${smtp.responseCode}: ` : ''}${smtp.response ?? smtp.message}${smtp.code ? ` (${smtp.code})` : ''}`,
      secrets,
    );
    throw ApplicationFailure.create({
      type: permanent ? 'ChannelRejected' : 'ChannelUnavailable',
      message,
      nonRetryable: permanent,
    });
  } finally {
    transport.close();
  }
}
