import { cutHead } from '../../common/text';

/**
 * Temporal refuses a payload over 2 MB (the SDK core checks it before sending): a run whose result
 * is larger cannot complete, and the workflow task that would end it fails at every attempt, the
 * run RUNNING and silent; a query's answer over it fails ("Blob data size exceeds limit"). The
 * status keeps its own lists short (steps, notices, refusals, events), but a run's detail can hold
 * more (an incident's severity changes, the runbooks it started: one per message). A result or a
 * query's answer over this many bytes is trimmed before it is returned.
 */
export const RESULT_MAX_BYTES = 1_500_000;

/** A string in a trimmed result is cut after this many characters. */
const STRING_MAX = 10_000;

/** What a trimmed result says about itself (absent from a result that fitted). */
export interface ResultTrimmed {
  /** The result's size before, in bytes (UTF-8 JSON). */
  bytes: number;
  /** Entries left out of each list (by path), the oldest first: the status and history keep them. */
  omitted: Record<string, number>;
  note: string;
}

function utf8Bytes(text: string): number {
  // A code unit is at most 3 bytes in UTF-8: below a third of the bound, it fits whatever it holds.
  return text.length * 3 <= RESULT_MAX_BYTES ? text.length : new TextEncoder().encode(text).length;
}

/** The largest array in `node` (by its JSON's length), with its path, or undefined. */
function largestArray(
  node: unknown,
  path: string,
): { array: unknown[]; path: string; size: number } | undefined {
  if (node === null || typeof node !== 'object') return undefined;
  let best: { array: unknown[]; path: string; size: number } | undefined;
  if (Array.isArray(node) && node.length > 1) best = { array: node, path, size: JSON.stringify(node).length };
  const entries = Array.isArray(node)
    ? node.map((item, i) => [String(i), item] as const)
    : Object.entries(node);
  for (const [key, child] of entries) {
    const found = largestArray(child, path ? `${path}.${key}` : key);
    if (found && (!best || found.size > best.size)) best = found;
  }
  return best;
}

function cutStrings(node: unknown): unknown {
  if (typeof node === 'string') return cutHead(node, STRING_MAX);
  if (node === null || typeof node !== 'object') return node;
  if (Array.isArray(node)) return node.map(cutStrings);
  return Object.fromEntries(Object.entries(node).map(([key, value]) => [key, cutStrings(value)]));
}

/**
 * `result` as it is when it fits in RESULT_MAX_BYTES; otherwise a copy whose largest lists lose
 * their oldest half, round after round, until it fits (then its long strings are cut), with
 * `resultTrimmed` saying what went. Never reached by a run that fits, so it changes no run's result.
 */
export function fitResult<T>(result: T): T {
  if (result === null || typeof result !== 'object') return result;
  const text = JSON.stringify(result);
  const bytes = utf8Bytes(text);
  if (bytes <= RESULT_MAX_BYTES) return result;
  let copy = JSON.parse(text) as Record<string, unknown>;
  const omitted: Record<string, number> = {};
  for (let round = 0; round < 200 && utf8Bytes(JSON.stringify(copy)) > RESULT_MAX_BYTES; round++) {
    const largest = largestArray(copy, '');
    if (!largest) break;
    const dropped = Math.ceil(largest.array.length / 2);
    largest.array.splice(0, dropped);
    omitted[largest.path] = (omitted[largest.path] ?? 0) + dropped;
  }
  if (utf8Bytes(JSON.stringify(copy)) > RESULT_MAX_BYTES) copy = cutStrings(copy) as Record<string, unknown>;
  const trimmed: ResultTrimmed = {
    bytes,
    omitted,
    note: `the result was ${(bytes / 1_000_000).toFixed(2)} MB, over the ${RESULT_MAX_BYTES / 1_000_000} MB kept under Temporal's 2 MB limit: its longest lists keep their latest entries (see omitted); the run's history keeps every message`,
  };
  return { ...copy, resultTrimmed: trimmed } as T;
}
