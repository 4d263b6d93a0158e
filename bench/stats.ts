/** The benchmarks' one way of reading a sample: the value at quantile q (nearest rank, no interpolation). */
export function quantile(samples: number[], q: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

/** `p50 … ms, p99 … ms (n=…)`. */
export function p50p99(samples: number[]): string {
  return `p50 ${quantile(samples, 0.5).toFixed(1)} ms, p99 ${quantile(samples, 0.99).toFixed(1)} ms (n=${samples.length})`;
}
