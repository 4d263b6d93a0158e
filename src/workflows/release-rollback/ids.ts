/**
 * The release rollback's name and workflow id, without its schemas: a backstop programme names
 * its child by them, and every module it imports is evaluated again for each run the SDK creates.
 */
/** Seed 001 §5: the binary-layer rollback of a merge (helm tag pin < 5 min, else merge revert < 30 min). */
export const RELEASE_ROLLBACK = 'releaseRollback';

export function releaseRollbackWorkflowId(storyId: string, mergeSha: string): string {
  return `release-rollback-${storyId}-${mergeSha.slice(0, 7)}`;
}
