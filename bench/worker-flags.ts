/** Extra Node flags for the benches' worker processes, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`. */
export const BENCH_WORKER_NODE_ARGS = (process.env.BENCH_WORKER_NODE_ARGS ?? '').split(' ').filter(Boolean);
