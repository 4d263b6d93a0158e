import { log } from '@temporalio/activity';
import { z } from 'zod';
import type { Notice, NoticeReceipt } from '../../common/notice';
import { parseInput } from '../validation';
import type { Notifier } from './notifier';

export { DatabaseNoticeLog, type Notifier } from './notifier';

const noticeSchema = z
  .object({
    deliveryKey: z.string().min(1).max(400),
    runbook: z.string().min(1),
    incidentId: z.string().min(1),
    workflowId: z.string().min(1),
    kind: z.string().min(1),
    severity: z.enum(['info', 'warning', 'critical']),
    audience: z.enum(['approvers', 'incident_commander', 'escalation']),
    subject: z.string().min(1),
    body: z.string(),
  })
  .strict();

export function createNotifyActivities(deps: { notifier: Notifier }) {
  return {
    /** Delivers one notice; a retry with the same delivery key is reported as a duplicate, not resent. */
    notify: async (raw: Notice): Promise<NoticeReceipt> => {
      const notice = parseInput(noticeSchema, raw, 'notice');
      const receipt = await deps.notifier.deliver(notice);
      log.info('notice delivered', {
        deliveryKey: notice.deliveryKey,
        kind: notice.kind,
        severity: notice.severity,
        channels: receipt.channels,
        duplicate: receipt.duplicate,
      });
      return receipt;
    },
  };
}
