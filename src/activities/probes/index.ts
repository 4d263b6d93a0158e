import type { ConsolePolicy } from '../../common/policy-schema';

/** `curl -sf <url>`: up when the server answers with a status below 400; anything else is down. */
export interface HttpProbe {
  url: string;
  up: boolean;
  status?: number;
  error?: string;
  elapsedMs: number;
  checkedAt: string;
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
        : ((error as Error & { cause?: { code?: string } }).cause?.code ?? (error as Error).message);
    return {
      url,
      up: false,
      error: reason,
      elapsedMs: Date.now() - started,
      checkedAt: new Date().toISOString(),
    };
  }
}

export function createProbeActivities(deps: { console: ConsolePolicy }) {
  return {
    /** The Console's HTTP probe (never throws: "down" is an observation, not a failure). */
    probeConsole: (): Promise<HttpProbe> => probeHttp(deps.console.url, deps.console.probeTimeout),
  };
}
