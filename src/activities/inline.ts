/**
 * Another step's work done inside an activity that runs anyway, to save the workflow a round trip
 * (a workflow task and an activity task each). The work is tried once, within INLINE_STEP_MS, and
 * its failure is returned, never thrown: the workflow then does the step on its own, under the
 * fail-safe, exactly as it would have without the inline attempt.
 */

/** Well inside the shortest carrying activity's start-to-close (the policy read's 10 s). */
export const INLINE_STEP_MS = 3_000;

/** An inline step's answer: its value, or why there is none (the workflow does the step itself). */
export type Inline<T> = { value: T } | { failed: string };

export async function tryInline<T>(work: () => Promise<T>): Promise<Inline<T>> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`no answer from Postgres within ${INLINE_STEP_MS} ms`)),
      INLINE_STEP_MS,
    );
  });
  try {
    return { value: await Promise.race([work(), late]) };
  } catch (error) {
    return { failed: error instanceof Error ? error.message : String(error) };
  } finally {
    clearTimeout(timer);
  }
}
