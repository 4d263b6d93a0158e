import { z } from 'zod';
import { kubeContextName, kubernetesName } from '../names';
import { duration, endpointUrl } from './fields';

/** RB-LAUNCH-002 (seed 002): the orchestrator deployment the rollback acts on, and its metrics. */

/** The deployment the rollback acts on (seed 002: flowengine in production). */
export const orchestratorSchema = z
  .object({
    kubeContext: kubeContextName,
    namespace: kubernetesName,
    deployment: kubernetesName,
    container: kubernetesName,
    /** The env var holding the comma-separated repo allowlist. */
    allowlistEnv: z.string().regex(/^[A-Z_][A-Z0-9_]*$/),
    configMap: kubernetesName,
    /** Key of the configmap listing the expanded repos (space-separated). */
    expandedReposKey: z.string().regex(/^[-._a-zA-Z0-9]+$/),
    pilotRepo: kubernetesName,
    pilotReplicas: z.number().int().min(1),
    podSelector: z.string().regex(/^[A-Za-z0-9._/-]+=[A-Za-z0-9._-]+(,[A-Za-z0-9._/-]+=[A-Za-z0-9._-]+)*$/),
    monitoringNamespace: kubernetesName,
    /** PrometheusRule of a repo: `<repo><suffix>` (seed: "-alerts"). */
    alertRuleSuffix: z
      .string()
      .regex(/^[-a-z0-9]*$/)
      .prefault('-alerts'),
    logTail: z.number().int().min(10).max(10_000).prefault(100),
    kubectlTimeout: duration.prefault('30s'),
  })
  .strict();

/** Prometheus HTTP API; each query may use $REPOS (a|b|c) and $WINDOW (e.g. 30m). */
export const prometheusSchema = z
  .object({
    url: endpointUrl,
    timeout: duration.prefault('10s'),
    queries: z
      .object({
        failuresByRepo: z.string().min(1),
        failureRate: z.string().min(1),
        successRate: z.string().min(1),
        p95LatencySeconds: z.string().min(1),
        errorRate: z.string().min(1),
        recurrence: z.string().min(1),
      })
      .strict(),
  })
  .strict();

export type OrchestratorPolicy = z.output<typeof orchestratorSchema>;
export type PrometheusPolicy = z.output<typeof prometheusSchema>;
