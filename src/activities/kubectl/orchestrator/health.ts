import type { OrchestratorCluster } from './cluster';

/** Seed 002 step 6: the health endpoints, called from inside the deployment. */
export function createHealthChecks(cluster: OrchestratorCluster) {
  const { rollback, kubectl, deployment } = cluster;
  return {
    /** Seed 002 step 6: health endpoints, from inside the deployment; each must say status "healthy". */
    healthChecks: async () => {
      const results = [];
      for (const check of rollback.healthChecks) {
        try {
          const result = await kubectl([
            'exec',
            deployment,
            '--',
            'curl',
            '-s',
            '--max-time',
            '10',
            check.url,
          ]);
          let status = 'unparseable';
          try {
            const parsed = (JSON.parse(result.stdout) as { status?: unknown }).status;
            status = typeof parsed === 'string' ? parsed : 'missing';
          } catch {
            status = `unparseable: ${result.stdout.trim().slice(0, 100)}`;
          }
          results.push({ name: check.name, url: check.url, status, ok: status === 'healthy' });
        } catch (error) {
          results.push({
            name: check.name,
            url: check.url,
            status: `error: ${(error as Error).message}`,
            ok: false,
          });
        }
      }
      return { ok: results.every((r) => r.ok), checks: results };
    },
  };
}
