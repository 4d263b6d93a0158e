/**
 * The release rollback's name and workflow id, without its schemas: a backstop programme names
 * its child by them, and every module it imports is evaluated again for each run the SDK creates.
 */
export const RELEASE_ROLLBACK = 'releaseRollback';

export function releaseRollbackWorkflowId(storyId: string, mergeSha: string): string {
  return `release-rollback-${storyId}-${mergeSha.slice(0, 7)}`;
}
