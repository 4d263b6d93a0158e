import { z } from 'zod';

/**
 * A bench's one argument, a count (`npm run bench -- sleepers 10000`): a whole number from 1 to
 * `max`, or the bench stops before it starts a server. It used to take `abc` as NaN and `0` as
 * nothing, start a dev server and print NaN or Infinity figures (or fail on an empty sample).
 */
export function countArgument(usage: string, fallback: number, max: number): number {
  const raw = process.argv[2];
  const parsed = z.coerce
    .number()
    .int()
    .min(1)
    .max(max)
    .safeParse(raw ?? fallback);
  if (parsed.success) return parsed.data;
  process.stderr.write(
    `${usage}: N must be a whole number from 1 to ${max.toLocaleString('en')}; got "${raw}"\n`,
  );
  process.exit(2);
}
