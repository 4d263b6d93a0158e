/**
 * `npm run bench -- launcher N`: what starting a program costs the worker's event loop, from the
 * worker itself (`execFile`) and from its process launcher (`launchFile`, src/activities/exec), at
 * the memory of a worker. This process first holds about BENCH_BALLAST_MIB (default 450) MiB of
 * live JavaScript objects (a test worker ran 500–650 MiB, the default worker 375 MiB at 10,000
 * asleep), then starts `true` N times each way, one after another, and prints per start: the time
 * the call held the event loop (its synchronous part: the fork is in it) and the whole call, p50 and
 * p99, and the event loop's largest delay over the series.
 */
import { execFile } from 'node:child_process';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { launchFile } from '../src/activities/exec/launcher';
import { countArgument } from './args';
import { quantile } from './stats';

const count = countArgument('npm run bench -- launcher N', 200, 10_000);
const ballastMiB = Number(process.env.BENCH_BALLAST_MIB ?? 450);

type Start = (done: () => void) => void;

async function series(label: string, start: Start): Promise<void> {
  const held: number[] = [];
  const whole: number[] = [];
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  for (let i = 0; i < count; i++) {
    await new Promise<void>((resolve) => {
      const began = performance.now();
      start(() => {
        whole.push(performance.now() - began);
        resolve();
      });
      held.push(performance.now() - began);
    });
  }
  delay.disable();
  const ms = (value: number) => `${value.toFixed(2)} ms`;
  process.stdout.write(
    `  ${label}: event loop held per start p50 ${ms(quantile(held, 0.5))}, p99 ${ms(quantile(held, 0.99))}; whole call p50 ${ms(quantile(whole, 0.5))}, p99 ${ms(quantile(whole, 0.99))}; largest event-loop delay ${ms(delay.max / 1e6)} (n=${count})\n`,
  );
}

async function main(): Promise<void> {
  // Live objects the collector must keep: pages the fork has to copy the tables of.
  const ballast: { id: number; text: string }[][] = [];
  while (process.memoryUsage().rss < ballastMiB * 1024 * 1024)
    ballast.push(Array.from({ length: 10_000 }, (_, id) => ({ id, text: `entry ${id}` })));
  const rss = () => `${(process.memoryUsage().rss / 1024 / 1024).toFixed(0)} MiB`;
  process.stdout.write(`program starts (\`true\`), one after another, from a process of ${rss()} RSS:\n`);
  // The launcher's own start (a node process) is not a program start: paid before the series.
  await new Promise<void>((resolve) => launchFile('true', [], { timeout: 10_000 }, () => resolve()));
  await series('from the worker (execFile)', (done) =>
    execFile('true', [], { timeout: 10_000 }, () => done()),
  );
  await series('from the launcher (launchFile)', (done) =>
    launchFile('true', [], { timeout: 10_000 }, () => done()),
  );
  process.stdout.write(`  (RSS at the end ${rss()}; ${ballast.length} ballast arrays kept)\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
