import type { NoticeKind } from '../../../common/notice';
import type { Notices } from '../notices';
import type { ProcedureEnd } from './procedure';

/** The plan step found nothing it can do (target gone, key missing, row exists…): tell the IC, end. */
export function cannotPlan(
  notices: Notices,
  tag: string,
  what: string,
  refusal: { status: NoticeKind; message: string },
): ProcedureEnd {
  notices.send({
    kind: refusal.status,
    severity: 'warning',
    audience: 'incident_commander',
    subject: `${tag} ${what}: ${refusal.status}`,
    body: refusal.message,
  });
  return { outcome: refusal.status, message: refusal.message };
}
