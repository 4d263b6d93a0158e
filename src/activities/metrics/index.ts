import { ApplicationFailure } from '@temporalio/common';
import { z } from 'zod';
import { kubernetesName } from '../../common/names';
import type { PrometheusPolicy } from '../../common/policy';
import { callApi, parseJson } from '../http';
import { parseInput } from '../validation';

/**
 * Prometheus HTTP API instant queries (`/api/v1/query`). Queries are templates from the policy
 * (never from workflow input); only validated repo names and a window are substituted.
 */

export type MetricName = keyof PrometheusPolicy['queries'];

export interface Sample {
  labels: Record<string, string>;
  value: number;
}

export interface MetricResult {
  name: MetricName;
  query: string;
  samples: Sample[];
  /** The single value of a scalar-like query, or null when Prometheus returned no data. */
  value: number | null;
  evaluatedAt: string;
}

/** The Prometheus HTTP API's answer, as far as we rely on it (other fields are ignored). */
const vectorItemSchema = z.looseObject({
  metric: z.record(z.string(), z.string()).optional(),
  value: z.unknown(),
});
const promResponseSchema = z.looseObject({
  status: z.enum(['success', 'error']),
  data: z
    .union([
      z.looseObject({ resultType: z.literal('vector'), result: z.array(vectorItemSchema) }),
      z.looseObject({ resultType: z.enum(['scalar', 'string', 'matrix']), result: z.unknown() }),
    ])
    .optional(),
  errorType: z.string().optional(),
  error: z.string().optional(),
});

const windowSchema = z.string().regex(/^\d+[smhd]$/, 'must be a Prometheus duration like 30m');

export function renderQuery(template: string, repos: string[], window: string): string {
  return template.replace(/\$REPOS/g, repos.join('|')).replace(/\$WINDOW/g, window);
}

function parseValue(raw: unknown): number {
  const value = Number(Array.isArray(raw) ? raw[1] : raw);
  return Number.isFinite(value) ? value : NaN;
}

export async function queryPrometheus(
  policy: PrometheusPolicy,
  name: MetricName,
  repos: string[],
  window: string,
): Promise<MetricResult> {
  const query = renderQuery(policy.queries[name], repos, window);
  const operation = `query ${name}`;
  // 5xx / 429 are retried; a 400 (bad_data) fails with Prometheus' own reason in the message.
  const response = await callApi({
    channel: 'prometheus',
    operation,
    url: `${policy.url.replace(/\/$/, '')}/api/v1/query?query=${encodeURIComponent(query)}`,
    method: 'GET',
    headers: { Accept: 'application/json' },
    timeoutMs: policy.timeout,
    secrets: [],
  });
  const body = parseJson(promResponseSchema, response, { channel: 'prometheus', operation });
  if (body.status !== 'success' || !body.data) {
    throw ApplicationFailure.create({
      type: 'ChannelRejected',
      nonRetryable: true,
      message: `prometheus: ${operation}: ${body.errorType ?? 'error'}: ${body.error ?? 'no data'}`,
    });
  }
  const { data } = body;
  let samples: Sample[] = [];
  if (data.resultType === 'vector') {
    samples = data.result.map((item) => ({
      labels: item.metric ?? {},
      value: parseValue(item.value),
    }));
  } else if (data.resultType === 'scalar') {
    samples = [{ labels: {}, value: parseValue(data.result) }];
  }
  samples = samples.filter((sample) => !Number.isNaN(sample.value));
  return {
    name,
    query,
    samples,
    value: samples.length === 0 ? null : samples.reduce((sum, sample) => sum + sample.value, 0),
    evaluatedAt: new Date().toISOString(),
  };
}

const analyzeSchema = z
  .object({ repos: z.array(kubernetesName).min(1).max(500), window: windowSchema })
  .strict();
const incidentSchema = z.object({ window: windowSchema }).strict();

export interface RepoAnalysis {
  window: string;
  repos: string[];
  successRate: number | null;
  p95LatencySeconds: number | null;
  errorRate: number | null;
  recurrence: number | null;
  queries: string[];
  evaluatedAt: string;
}

export interface IncidentMetrics {
  window: string;
  failuresByRepo: Record<string, number>;
  failingRepos: string[];
  failureRate: number | null;
  queries: string[];
  evaluatedAt: string;
}

export function createMetricsActivities(deps: { prometheus: PrometheusPolicy }) {
  return {
    /** Failures by repo and the overall failure rate (decision framework, incident confirmation). */
    incidentMetrics: async (raw: { window: string }): Promise<IncidentMetrics> => {
      const input = parseInput(incidentSchema, raw, 'incidentMetrics input');
      const [failures, rate] = await Promise.all([
        queryPrometheus(deps.prometheus, 'failuresByRepo', [], input.window),
        queryPrometheus(deps.prometheus, 'failureRate', [], input.window),
      ]);
      const failuresByRepo: Record<string, number> = {};
      for (const sample of failures.samples) {
        const repo = sample.labels.repo;
        if (repo) failuresByRepo[repo] = (failuresByRepo[repo] ?? 0) + sample.value;
      }
      return {
        window: input.window,
        failuresByRepo,
        failingRepos: Object.entries(failuresByRepo)
          .filter(([, count]) => count > 0)
          .sort((a, b) => b[1] - a[1])
          .map(([repo]) => repo),
        failureRate: rate.value,
        queries: [failures.query, rate.query],
        evaluatedAt: new Date().toISOString(),
      };
    },

    /** Success rate, p95 latency, error rate and recurrence for the repos live (re-enablement analysis). */
    analyzeRepos: async (raw: { repos: string[]; window: string }): Promise<RepoAnalysis> => {
      const input = parseInput(analyzeSchema, raw, 'analyzeRepos input');
      const names: MetricName[] = ['successRate', 'p95LatencySeconds', 'errorRate', 'recurrence'];
      const results = await Promise.all(
        names.map((name) => queryPrometheus(deps.prometheus, name, input.repos, input.window)),
      );
      const byName = Object.fromEntries(results.map((result) => [result.name, result.value])) as Record<
        MetricName,
        number | null
      >;
      return {
        window: input.window,
        repos: input.repos,
        successRate: byName.successRate,
        p95LatencySeconds: byName.p95LatencySeconds,
        errorRate: byName.errorRate,
        recurrence: byName.recurrence,
        queries: results.map((result) => result.query),
        evaluatedAt: new Date().toISOString(),
      };
    },
  };
}
