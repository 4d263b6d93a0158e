import type { Justification } from './definitions';

/** Step 1 of Procedure B (seed 000): is break-glass justified? The seed's decision table and its evidence. */

/** The seed's decision table for step 1. Missing evidence never justifies break-glass. */
export function judge(
  pods: { readiness: Justification['pods'] } | { error: string },
  http: Justification['http'],
): Justification {
  const base = { http, ...('readiness' in pods ? { pods: pods.readiness } : { podsError: pods.error }) };
  const httpText = http.up
    ? `HTTP ${http.status}`
    : `HTTP_DOWN (${http.status ?? http.error ?? 'no answer'})`;
  if (http.up) {
    return {
      ...base,
      verdict: 'console_up',
      reason: `Console is up (${httpText}): use the Console, no break-glass`,
    };
  }
  if (!('readiness' in pods) || !pods.readiness) {
    return {
      ...base,
      verdict: 'cannot_verify',
      reason: `cannot read the Console pods' Ready condition (${'error' in pods ? pods.error : 'no answer'}); break-glass needs evidence that no pod is Ready — escalate`,
    };
  }
  const ready = pods.readiness.pods.filter((pod) => pod.ready).map((pod) => pod.name);
  if (ready.length > 0) {
    return {
      ...base,
      verdict: 'ingress_dns',
      reason: `Console pods are Ready (${ready.join(', ')}) but ${httpText}: ingress/DNS issue, escalate to platform, no break-glass`,
    };
  }
  return {
    ...base,
    verdict: 'justified',
    reason: `no Console pod is Ready (${pods.readiness.pods.map((pod) => `${pod.name}=${pod.condition || '?'}`).join(', ') || 'no pods'}) and ${httpText}`,
  };
}

export function evidence(justification: Justification): string {
  const pods = justification.pods
    ? `${justification.pods.command}\n${justification.pods.pods.map((pod) => `${pod.name}=${pod.condition}`).join('\n') || '(no pods)'}`
    : `pods: ${justification.podsError ?? 'not checked'}`;
  const http = `GET ${justification.http.url} → ${justification.http.up ? 'HTTP_OK' : 'HTTP_DOWN'} (${justification.http.status ?? justification.http.error ?? ''})`;
  return `${justification.reason}\n\n${pods}\n${http}`;
}
