import { z } from 'zod';
import { parseDuration } from '../duration';
import { sharedSchemas } from '../shared-schemas';

/** Field types every policy section uses. */

export const { duration, endpointUrl, callTimeout } = sharedSchemas('common/policy/fields', () => {
  /** "90s", "2m", "24h" in the file; milliseconds once parsed. */
  const duration = z.string().transform((text, ctx) => {
    const ms = parseDuration(text);
    if (ms === undefined || ms <= 0) {
      ctx.addIssue({
        code: 'custom',
        message: `must be a positive duration like "90s", "2m", "24h" (got "${text}")`,
      });
      return z.NEVER;
    }
    return ms;
  });
  return {
    duration,
    /** https, or plain http to a loopback address (local sinks and tunnels only). */
    endpointUrl: z.string().refine((value) => {
      try {
        const url = new URL(value);
        const loopback = ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
        return url.protocol === 'https:' || (url.protocol === 'http:' && loopback);
      } catch {
        return false;
      }
    }, 'must be an https:// URL (plain http only to 127.0.0.1/localhost)'),
    /** A call's time limit, 10 s unless the policy says otherwise. */
    callTimeout: duration.prefault('10s'),
  };
});
