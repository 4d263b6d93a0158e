import { log, metricMeter } from '@temporalio/activity';
import { RUNBOOK_METRICS } from '../../common/metrics';
import type { Pool } from 'pg';
import { z } from 'zod';
import type { Notice, NoticeReceipt } from '../../common/notice';
import type { ChannelRegistry } from '../channels';
import { parseInput } from '../validation';
import { beginDelivery, completeDelivery } from '../delivery-ledger';
import { sendEmail } from './email';
import { recordNotice } from './log';
import { sendPagerDuty } from './pagerduty';
import { sendSlack } from './slack';
import {
  statusPageUpdateSchema,
  updateStatusPage,
  type StatusPageReceipt,
  type StatusPageUpdate,
} from './statuspage';
import { sendWebhook } from './webhook';

const noticeSchema = z
  .object({
    deliveryKey: z.string().min(1).max(400),
    runbook: z.string().min(1),
    incidentId: z.string().min(1),
    workflowId: z.string().min(1),
    kind: z.string().min(1),
    severity: z.enum(['info', 'warning', 'critical']),
    audience: z.enum(['approvers', 'incident_commander', 'escalation', 'owner']),
    subject: z.string().min(1),
    body: z.string(),
    details: z.array(z.object({ label: z.string(), value: z.string() }).strict()).optional(),
    code: z.array(z.object({ label: z.string(), text: z.string() }).strict()).optional(),
    recipients: z.array(z.string()).optional(),
    page: z
      .object({ action: z.enum(['trigger', 'acknowledge', 'resolve']), dedupKey: z.string().min(1).max(255) })
      .strict()
      .optional(),
  })
  .strict();

const deliverySchema = z.object({ channel: z.string().min(1), notice: noticeSchema }).strict();

/** What a notice activity is given: the channel's name (never its URL or key) and the notice. */
export interface NoticeDelivery {
  channel: string;
  notice: Notice;
}

export interface NotifyDeps {
  db: Pool;
  channels: ChannelRegistry;
}

/**
 * One activity per channel type, so the Web UI shows "notifySlack", "notifyPagerDuty", … Each makes
 * one delivery attempt; Temporal retries (the `notification` preset) with Retry-After honoured.
 */
export function createNotifyActivities(deps: NotifyDeps) {
  const secrets = deps.channels.secretValues;

  /** Sends at most once per (delivery key, channel): a retry after a recorded success is a no-op. */
  async function once(
    channel: string,
    notice: Notice,
    send: () => Promise<NoticeReceipt>,
  ): Promise<NoticeReceipt> {
    const started = await beginDelivery<NoticeReceipt>(deps.db, notice.deliveryKey, channel);
    if (started.state === 'delivered') return { ...started.receipt, duplicate: true };
    const receipt = await send();
    await completeDelivery(deps.db, notice.deliveryKey, channel, receipt);
    return receipt;
  }

  function delivered(receipt: NoticeReceipt, notice: Notice): NoticeReceipt {
    log.info('notice delivered', {
      channel: receipt.channel,
      kind: notice.kind,
      deliveryKey: notice.deliveryKey,
      duplicate: receipt.duplicate,
    });
    return receipt;
  }

  /** Counts each delivery attempt of a notice activity by channel: delivered, or failed (thrown). */
  function counted(
    send: (raw: NoticeDelivery) => Promise<NoticeReceipt>,
  ): (raw: NoticeDelivery) => Promise<NoticeReceipt> {
    return async (raw) => {
      const channel = typeof raw?.channel === 'string' ? raw.channel : 'unknown';
      const notices = metricMeter.createCounter(
        RUNBOOK_METRICS.notices.name,
        '',
        RUNBOOK_METRICS.notices.help,
      );
      try {
        const receipt = await send(raw);
        notices.add(1, { channel, result: 'delivered' });
        return receipt;
      } catch (error) {
        notices.add(1, { channel, result: 'failed' });
        throw error;
      }
    };
  }

  return {
    notifyLog: counted(async (raw: NoticeDelivery): Promise<NoticeReceipt> => {
      const { channel, notice } = parseInput(deliverySchema, raw, 'notice delivery');
      deps.channels.get(channel, 'log');
      return delivered(await recordNotice(deps.db, channel, notice), notice);
    }),
    notifySlack: counted(async (raw: NoticeDelivery): Promise<NoticeReceipt> => {
      const { channel, notice } = parseInput(deliverySchema, raw, 'notice delivery');
      const slack = deps.channels.get(channel, 'slack');
      return delivered(await once(channel, notice, () => sendSlack(slack, notice, secrets)), notice);
    }),
    notifyPagerDuty: counted(async (raw: NoticeDelivery): Promise<NoticeReceipt> => {
      const { channel, notice } = parseInput(deliverySchema, raw, 'notice delivery');
      // PagerDuty deduplicates by dedup_key itself: a retried event never pages twice.
      return delivered(await sendPagerDuty(deps.channels.get(channel, 'pagerduty'), notice, secrets), notice);
    }),
    notifyEmail: counted(async (raw: NoticeDelivery): Promise<NoticeReceipt> => {
      const { channel, notice } = parseInput(deliverySchema, raw, 'notice delivery');
      const email = deps.channels.get(channel, 'email');
      return delivered(
        await once(channel, notice, () => sendEmail(email, notice, deps.channels.directory, secrets)),
        notice,
      );
    }),
    notifyWebhook: counted(async (raw: NoticeDelivery): Promise<NoticeReceipt> => {
      const { channel, notice } = parseInput(deliverySchema, raw, 'notice delivery');
      const webhook = deps.channels.get(channel, 'webhook');
      return delivered(await once(channel, notice, () => sendWebhook(webhook, notice, secrets)), notice);
    }),
    /** Create / update / resolve the incident on the status page (idempotent per incident key). */
    updateStatusPage: async (raw: StatusPageUpdate): Promise<StatusPageReceipt> => {
      const update = parseInput(statusPageUpdateSchema, raw, 'status page update');
      return updateStatusPage(deps.db, deps.channels.get(update.channel, 'statuspage'), update, secrets);
    },
  };
}

export { recordNotice } from './log';
export type { StatusPageReceipt, StatusPageUpdate } from './statuspage';
