import type { Notice, NoticeReceipt } from '../../common/notice';
import type { ResolvedChannel } from '../channels';
import { z } from 'zod';
import { callApi, parseJson } from '../http';
import { truncate } from './render';

/**
 * PagerDuty Events API v2. Idempotent by design: events with the same `dedup_key` collapse into one
 * alert, so a retried trigger never pages twice; acknowledge/resolve target that alert.
 */
export function pagerDutyEvent(
  notice: Notice,
  channel: ResolvedChannel<'pagerduty'>,
): Record<string, unknown> {
  const action = notice.page?.action ?? 'trigger';
  const dedupKey = notice.page?.dedupKey ?? notice.deliveryKey;
  const base = {
    routing_key: channel.secrets.routingKey,
    event_action: action,
    dedup_key: truncate(dedupKey, 255),
  };
  if (action !== 'trigger') return base;
  return {
    ...base,
    payload: {
      summary: truncate(notice.subject, 1024),
      severity:
        notice.severity === 'critical' ? 'critical' : notice.severity === 'warning' ? 'warning' : 'info',
      source: channel.config.source,
      component: notice.runbook,
      group: notice.incidentId,
      class: notice.kind,
      custom_details: {
        body: notice.body,
        workflow_id: notice.workflowId,
        ...Object.fromEntries((notice.details ?? []).map((detail) => [detail.label, detail.value])),
      },
    },
  };
}

export async function sendPagerDuty(
  channel: ResolvedChannel<'pagerduty'>,
  notice: Notice,
  secrets: readonly string[],
): Promise<NoticeReceipt> {
  const event = pagerDutyEvent(notice, channel);
  const operation = `${String(event.event_action)} PagerDuty event`;
  const response = await callApi({
    channel: channel.name,
    operation,
    url: channel.config.eventsUrl,
    method: 'POST',
    body: event,
    timeoutMs: channel.config.timeout,
    secrets,
  });
  const accepted = parseJson(z.looseObject({ dedup_key: z.string().optional() }), response, {
    channel: channel.name,
    operation,
  });
  return {
    deliveryKey: notice.deliveryKey,
    channel: channel.name,
    duplicate: false,
    reference: accepted.dedup_key ?? String(event.dedup_key),
  };
}
