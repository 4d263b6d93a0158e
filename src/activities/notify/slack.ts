import type { Notice, NoticeReceipt } from '../../common/notice';
import type { ResolvedChannel } from '../channels';
import { callApi } from '../http';
import { truncate } from './render';

/**
 * Slack incoming webhook: `text` (the notification fallback) plus Block Kit blocks. Slack limits:
 * header 150 characters, section text 3000, 10 fields per section.
 */
export function slackMessage(notice: Notice): { text: string; blocks: unknown[] } {
  const icon =
    notice.severity === 'critical'
      ? ':rotating_light:'
      : notice.severity === 'warning'
        ? ':warning:'
        : ':information_source:';
  const blocks: unknown[] = [
    { type: 'header', text: { type: 'plain_text', text: truncate(notice.subject, 150), emoji: true } },
    { type: 'section', text: { type: 'mrkdwn', text: truncate(`${icon} ${notice.body}`, 3000) } },
  ];
  if (notice.details?.length) {
    blocks.push({
      type: 'section',
      fields: notice.details
        .slice(0, 10)
        .map((detail) => ({ type: 'mrkdwn', text: truncate(`*${detail.label}*\n${detail.value}`, 2000) })),
    });
  }
  for (const block of notice.code ?? []) {
    blocks.push({
      type: 'section',
      text: { type: 'mrkdwn', text: truncate(`*${block.label}*\n\`\`\`${block.text}\`\`\``, 3000) },
    });
  }
  blocks.push({
    type: 'context',
    elements: [
      {
        type: 'mrkdwn',
        text: `${notice.runbook} · incident ${notice.incidentId} · workflow \`${notice.workflowId}\``,
      },
    ],
  });
  return { text: truncate(`${notice.subject}\n${notice.body}`, 3000), blocks };
}

export async function sendSlack(
  channel: ResolvedChannel<'slack'>,
  notice: Notice,
  secrets: readonly string[],
): Promise<NoticeReceipt> {
  await callApi({
    channel: channel.name,
    operation: 'post Slack message',
    url: channel.secrets.webhookUrl,
    method: 'POST',
    body: slackMessage(notice),
    timeoutMs: channel.config.timeout,
    secrets,
  });
  return { deliveryKey: notice.deliveryKey, channel: channel.name, duplicate: false };
}
