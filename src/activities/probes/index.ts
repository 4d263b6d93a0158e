import { z } from 'zod';
import type { ConsolePolicy } from '../../common/policy';
import { parseInput } from '../validation';

/** `curl -sf <url>`: up when the server answers with a status below 400; anything else is down. */
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
      up: response.status < 400,
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

export function createProbeActivities(deps: { console: ConsolePolicy }) {
  return {
    /**
     * One GET of `url` (seed 001's Console restore probe), redirects not followed. Never throws and
     * never retried: no answer, or any status of 400 and above (a 401/403 auth failure, a 5xx), is
     * "not live"; any status below 400 counts as live, a 3xx redirect included.
     */
    probeUrl: (raw: { url: string; timeoutMs: number }): Promise<HttpProbe> => {
      const input = parseInput(probeUrlSchema, raw, 'probeUrl input');
      return probeHttp(input.url, input.timeoutMs);
    },
    /** The Console's HTTP probe (never throws: "down" is an observation, not a failure). */
    probeConsole: (): Promise<HttpProbe> => probeHttp(deps.console.url, deps.console.probeTimeout),
  };
}
