import type { Notice, NoticeReceipt } from '../../common/notice';
import type { ResolvedChannel } from '../channels';
import { callApi } from '../http';
import { renderText } from './render';

/** Generic JSON webhook: the notice as structured JSON plus a plain-text rendering. */
export async function sendWebhook(
  channel: ResolvedChannel<'webhook'>,
  notice: Notice,
  secrets: readonly string[],
): Promise<NoticeReceipt> {
  await callApi({
    channel: channel.name,
    operation: 'POST webhook',
    url: channel.secrets.url,
    method: 'POST',
    headers: { 'Idempotency-Key': notice.deliveryKey },
    body: { notice, text: renderText(notice) },
    timeoutMs: channel.config.timeout,
    secrets,
  });
  return { deliveryKey: notice.deliveryKey, channel: channel.name, duplicate: false };
}
