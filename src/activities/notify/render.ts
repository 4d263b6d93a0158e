import type { Notice } from '../../common/notice';

/** Plain-text rendering of a notice (email body, webhook fallback text). */
export function renderText(notice: Notice): string {
  const lines = [notice.subject, '', notice.body];
  if (notice.details?.length) {
    lines.push('', ...notice.details.map((detail) => `${detail.label}: ${detail.value}`));
  }
  for (const block of notice.code ?? []) {
    lines.push('', `${block.label}:`, block.text);
  }
  lines.push('', `runbook ${notice.runbook} · incident ${notice.incidentId} · workflow ${notice.workflowId}`);
  return lines.join('\n');
}

export function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
