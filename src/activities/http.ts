import { ApplicationFailure } from '@temporalio/common';
import type { z } from 'zod';
import { redact } from './channels';

/**
 * One HTTP call to an external API, classified for Temporal's retries:
 * - 2xx: returned;
 * - 429 and 5xx, timeouts and connection errors: a retryable `ChannelUnavailable` failure, with
 *   `nextRetryDelay` from Retry-After when the server sent one (capped);
 * - any other 4xx: a non-retryable `ChannelRejected` failure naming the channel, the status and
 *   the response text;
 * - a 2xx whose body is over MAX_RESPONSE_BYTES: a non-retryable `ChannelRejected` failure.
 * Every message is scrubbed of the worker's secrets.
 */

export const MAX_RETRY_AFTER_MS = 120_000;

/**
 * The most of a response body a call reads (the APIs' pages, messages and query results are a few
 * hundred KiB at most). A 2xx with more fails for good and the rest is not read; an error's body
 * over it is not quoted. Before, the whole body was read: a URL that streamed 400 MiB (a download,
 * a proxy's error page) took the worker's RSS to 1.3 GiB, and one of 700 MiB could not be made a
 * string and was taken as an empty body (the caller then said "not JSON"), at 1.5 GiB.
 */
export const MAX_RESPONSE_BYTES = 16 * 1024 * 1024;

export interface ApiRequest {
  /** Channel name, for messages: "slack-incidents", "github", … */
  channel: string;
  /** What the call does, for messages: "POST message", "create issue", … */
  operation: string;
  url: string;
  method: 'GET' | 'POST' | 'PATCH' | 'PUT';
  headers?: Record<string, string>;
  body?: unknown;
  timeoutMs: number;
  secrets: readonly string[];
}

export interface ApiResponse {
  status: number;
  headers: Headers;
  text: string;
}

/** Retry-After as milliseconds: delta-seconds or an HTTP date; undefined when absent or invalid. */
export function retryAfterMs(header: string | null, now = Date.now()): number | undefined {
  if (!header) return undefined;
  const trimmed = header.trim();
  if (/^\d+$/.test(trimmed)) return Math.min(Number(trimmed) * 1_000, MAX_RETRY_AFTER_MS);
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.min(Math.max(date - now, 0), MAX_RETRY_AFTER_MS);
}

export async function callApi(request: ApiRequest): Promise<ApiResponse> {
  const scrub = (text: string): string => redact(text, request.secrets);
  let response: Response;
  try {
    response = await fetch(request.url, {
      method: request.method,
      headers: {
        ...(request.body !== undefined ? { 'Content-Type': 'application/json' } : {}),
        ...request.headers,
      },
      ...(request.body !== undefined
        ? { body: typeof request.body === 'string' ? request.body : JSON.stringify(request.body) }
        : {}),
      signal: AbortSignal.timeout(request.timeoutMs),
      redirect: 'error',
    });
  } catch (error) {
    const reason = isFetchTimeout(error)
      ? `no response within ${request.timeoutMs} ms`
      : `connection failed: ${describeNetworkError(error)}`;
    throw ApplicationFailure.create({
      type: 'ChannelUnavailable',
      message: scrub(`${request.channel}: ${request.operation}: ${reason}`),
    });
  }
  const text = await boundedText(response, MAX_RESPONSE_BYTES).catch(() => '');
  const overBound = `a body over ${MAX_RESPONSE_BYTES / (1024 * 1024)} MiB, not read further`;
  if (response.ok) {
    if (text === undefined)
      throw ApplicationFailure.create({
        type: 'ChannelRejected',
        nonRetryable: true,
        message: scrub(
          `${request.channel}: ${request.operation}: HTTP ${response.status} with ${overBound} (is the URL ${request.channel}'s API?)`,
        ),
        details: [{ status: response.status }],
      });
    return { status: response.status, headers: response.headers, text };
  }

  // An error's body is only quoted: one over the bound does not change how the status is taken.
  const excerpt =
    text === undefined
      ? `(${overBound})`
      : scrub(text.replace(/\s+/g, ' ').trim().slice(0, 500)) || '(empty body)';
  const message = scrub(
    `${request.channel}: ${request.operation}: HTTP ${response.status} ${response.statusText}: ${excerpt}`,
  );
  if (response.status === 429 || response.status >= 500) {
    const delay = retryAfterMs(response.headers.get('retry-after'));
    throw ApplicationFailure.create({
      type: 'ChannelUnavailable',
      message,
      details: [{ status: response.status }],
      ...(delay !== undefined ? { nextRetryDelay: delay } : {}),
    });
  }
  throw ApplicationFailure.create({
    type: 'ChannelRejected',
    message,
    nonRetryable: true,
    details: [{ status: response.status }],
  });
}

/**
 * The body as text (UTF-8, a BOM dropped, as `response.text()`), or undefined when it is over
 * `maxBytes`: then what is left of it is not read and the connection is closed. A declared
 * Content-Length over the bound is refused before a byte is read.
 */
async function boundedText(response: Response, maxBytes: number): Promise<string | undefined> {
  const declared = Number(response.headers.get('content-length') ?? Number.NaN);
  const body = response.body;
  if (declared > maxBytes) {
    await body?.cancel().catch(() => undefined);
    return undefined;
  }
  if (!body) return '';
  const reader = (body as ReadableStream<Uint8Array>).getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel().catch(() => undefined);
      return undefined;
    }
    chunks.push(value);
  }
  return new TextDecoder().decode(Buffer.concat(chunks));
}

/** A fetch given up by its `AbortSignal.timeout`. */
export function isFetchTimeout(error: unknown): boolean {
  return error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError');
}

/** fetch's "fetch failed" says nothing: its cause (ECONNREFUSED, …) does. */
export function describeNetworkError(error: unknown): string {
  if (error instanceof Error) {
    const cause = (error as Error & { cause?: { code?: string; message?: string } }).cause;
    return cause?.code ?? cause?.message ?? error.message;
  }
  return String(error);
}

/**
 * The response body, parsed and checked against what the caller relies on: a body that is not
 * JSON, or whose shape differs (a field missing or of another type), fails non-retryably naming
 * the API, the operation and each bad field, instead of being cast and misread later.
 */
export function parseJson<S extends z.ZodType>(
  schema: S,
  response: ApiResponse,
  request: Pick<ApiRequest, 'channel' | 'operation'>,
): z.output<S> {
  let body: unknown;
  try {
    body = JSON.parse(response.text);
  } catch {
    throw ApplicationFailure.create({
      type: 'ChannelRejected',
      nonRetryable: true,
      message: `${request.channel}: ${request.operation}: HTTP ${response.status} but the body is not JSON`,
    });
  }
  const parsed = schema.safeParse(body);
  if (parsed.success) return parsed.data;
  const fields = parsed.error.issues
    .slice(0, 5)
    .map((issue) => `${issue.path.map(String).join('.') || '(body)'}: ${issue.message}`)
    .join('; ');
  throw ApplicationFailure.create({
    type: 'ChannelRejected',
    nonRetryable: true,
    message: `${request.channel}: ${request.operation}: HTTP ${response.status} but the response does not have the expected shape: ${fields}`,
  });
}

/** How many pages a list read follows before it stops with an error rather than read forever. */
export const MAX_PAGES = 20;

/**
 * Reads a paginated list to its end: `page(n)` fetches page n (1-based) and says whether more
 * follow. Past MAX_PAGES it fails naming the operation: a partial list is never taken as whole.
 */
export async function readAllPages<T>(
  request: Pick<ApiRequest, 'channel' | 'operation'>,
  page: (n: number) => Promise<{ items: T[]; more: boolean }>,
): Promise<T[]> {
  const all: T[] = [];
  for (let n = 1; n <= MAX_PAGES; n++) {
    const { items, more } = await page(n);
    all.push(...items);
    if (!more) return all;
  }
  throw ApplicationFailure.create({
    type: 'ChannelRejected',
    nonRetryable: true,
    message: `${request.channel}: ${request.operation}: more than ${MAX_PAGES} pages (${all.length} items so far); not read further`,
  });
}
