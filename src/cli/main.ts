import { parseArgs } from 'node:util';
import { ConfigurationError } from '../common/errors';
import { scrubSecrets } from '../common/scrub';
import { OPTIONS, UsageError } from './args';
import { withClient } from './client';
import { findCommand, usage } from './registry';

/**
 * The runbooks CLI: start any runbook, read a run's status, send the gate and obligation messages,
 * list runs. Options are validated with the workflows' own schemas before anything connects, and
 * each bad option is named by the flag that was typed.
 */
async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { values, positionals } = parsed;
  const name = positionals[0];
  if (values.help || !name) {
    process.stdout.write(`${usage()}\n`);
    return 0;
  }
  const command = findCommand(name);
  if (!command) throw new UsageError(`unknown command "${name}"`);
  const prepared = command.prepare(values, positionals.slice(1));
  const output = await withClient(prepared);
  process.stdout.write(values.json ? `${JSON.stringify(output.json, null, 2)}\n` : `${output.text}\n`);
  return output.exitCode ?? 0;
}

main(process.argv.slice(2)).then(
  // exitCode, not exit(): stdout to a pipe is written asynchronously and must not be cut short.
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    if (error instanceof UsageError || error instanceof ConfigurationError) {
      process.stderr.write(`runbooks: ${error.message}\n`);
      if (error instanceof UsageError) process.stderr.write('run "npm run cli -- --help" for usage\n');
    } else {
      // An unexpected error may quote a connection URL or a token: the usual forms are scrubbed.
      process.stderr.write(
        `runbooks: ${scrubSecrets(error instanceof Error ? error.message : String(error))}\n`,
      );
    }
    process.exit(1);
  },
);
