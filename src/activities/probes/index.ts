import { ApplicationFailure } from '@temporalio/common';
import { z } from 'zod';
import type { BackstopPolicy, ConsolePolicy } from '../../common/policy';
import { parseInput } from '../validation';

/**
 * One GET, redirects not followed: up only on a 2xx. A redirect (to an SSO login page, say), an auth
 * failure, a 5xx or no answer all mean down (seed 001: an inaccessible Console is "not live").
 */
export interface HttpProbe {
  url: string;
  up: boolean;
  status?: number;
  error?: string;
  elapsedMs: number;
  checkedAt: string;
}

/** "fetch failed" says nothing: name the network error (ECONNREFUSED, ENOTFOUND, …) under it. */
function connectionFailure(error: Error): string {
  const cause = (
    error as Error & { cause?: { code?: string; message?: string; errors?: { code?: string }[] } }
  ).cause;
  return cause?.code ?? cause?.errors?.[0]?.code ?? cause?.message ?? error.message;
}

export async function probeHttp(url: string, timeoutMs: number): Promise<HttpProbe> {
  const started = Date.now();
  try {
    const response = await fetch(url, {
      method: 'GET',
      redirect: 'manual',
      signal: AbortSignal.timeout(timeoutMs),
    });
    await response.body?.cancel();
    return {
      url,
      up: response.status >= 200 && response.status < 300,
      status: response.status,
      elapsedMs: Date.now() - started,
      checkedAt: new Date().toISOString(),
    };
  } catch (error) {
    const reason =
      error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')
        ? `no response within ${timeoutMs} ms`
        : connectionFailure(error as Error);
    return {
      url,
      up: false,
      error: reason,
      elapsedMs: Date.now() - started,
      checkedAt: new Date().toISOString(),
    };
  }
}

const probeUrlSchema = z
  .object({ url: z.url({ protocol: /^https?$/ }), timeoutMs: z.number().int().positive().max(120_000) })
  .strict();

export function createProbeActivities(deps: { console: ConsolePolicy; backstop: BackstopPolicy }) {
  /** The URLs this worker may probe: the policy's, read at each call (never a run's input). */
  const declared = (): Set<string> =>
    new Set([
      deps.console.url,
      ...Object.values(deps.backstop.stories).map((story) => story.consoleRestoreProbeUrl),
    ]);
  return {
    /**
     * One GET of `url` (seed 001's Console restore probe), redirects not followed, and only of a
     * URL the policy declares. Never throws for what it finds and is never retried: only a 2xx is
     * live; a redirect, an auth failure, a 5xx or no answer is not.
     */
    probeUrl: (raw: { url: string; timeoutMs: number }): Promise<HttpProbe> => {
      const input = parseInput(probeUrlSchema, raw, 'probeUrl input');
      if (!declared().has(input.url))
        throw ApplicationFailure.create({
          type: 'UrlNotInPolicy',
          nonRetryable: true,
          message: `probeUrl: ${input.url} is not a URL this worker's policy declares (console.url, runbooks.backstop.stories[…].consoleRestoreProbeUrl); the worker calls only the policy's URLs, never one a run chose`,
        });
      return probeHttp(input.url, input.timeoutMs);
    },
    /** The Console's HTTP probe (never throws: "down" is an observation, not a failure). */
    probeConsole: (): Promise<HttpProbe> => probeHttp(deps.console.url, deps.console.probeTimeout),
  };
}
