/**
 * Human-readable durations for the policy file ("90s", "2m", "60m", "24h", "30d").
 * Kept free of Node built-ins so workflow code can use it too.
 */
const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
export const DAY_MS = UNIT_MS.d;
const DURATION_PATTERN = /^(\d+)(ms|s|m|h|d)$/;

export function parseDuration(text: string): number | undefined {
  const match = DURATION_PATTERN.exec(text.trim());
  if (!match) return undefined;
  const amount = Number(match[1]);
  const unit = match[2] as keyof typeof UNIT_MS;
  return amount * UNIT_MS[unit];
}

/** Formats milliseconds the way an operator reads them: "2m", "1h30m", "24h", "45s". */
export function formatDuration(totalMs: number): string {
  if (totalMs < 1_000) return `${Math.round(totalMs)}ms`;
  const parts: string[] = [];
  let rest = Math.round(totalMs / 1_000);
  const days = Math.floor(rest / 86_400);
  rest -= days * 86_400;
  const hours = Math.floor(rest / 3_600);
  rest -= hours * 3_600;
  const minutes = Math.floor(rest / 60);
  const seconds = rest - minutes * 60;
  if (days) parts.push(`${days}d`);
  if (hours) parts.push(`${hours}h`);
  if (minutes) parts.push(`${minutes}m`);
  if (seconds) parts.push(`${seconds}s`);
  return parts.join('');
}

export function utcIso(epochMs: number): string {
  return new Date(epochMs).toISOString();
}
