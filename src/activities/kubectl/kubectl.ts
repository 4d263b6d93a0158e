import { ApplicationFailure } from '@temporalio/common';
import { failureWithoutOutput, launchFile } from '../exec/launcher';
import { HEARTBEAT_EVERY_MS, heartbeatIfInActivity } from '../heartbeat';

/**
 * Runs the real `kubectl` with an argument array (never a shell), from the worker's process
 * launcher (../exec/launcher.ts), always with an explicit --context and --namespace, a timeout
 * and captured output. The binary is `kubectl` on PATH (tests put a fake first on PATH), or
 * $KUBECTL.
 */

export interface KubectlTarget {
  context: string;
  namespace: string;
}

export interface KubectlResult {
  argv: string[];
  stdout: string;
  stderr: string;
}

const K8S_NAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const CONTEXT = /^[A-Za-z0-9._@:/-]{1,253}$/;

/** Errors that another attempt cannot fix. */
const PERMANENT =
  /\b(NotFound|Forbidden|Unauthorized|forbidden|not found|unknown (command|flag|shorthand)|invalid|error: context .* does not exist|doesn't have a resource type)\b/;

export function runKubectl(
  target: KubectlTarget,
  args: string[],
  options: { timeoutMs: number },
): Promise<KubectlResult> {
  if (!CONTEXT.test(target.context) || !K8S_NAME.test(target.namespace)) {
    return Promise.reject(
      ApplicationFailure.create({
        type: 'InvalidInput',
        nonRetryable: true,
        message: `kubectl target refused: context "${target.context}" / namespace "${target.namespace}" are not valid names`,
      }),
    );
  }
  const binary = process.env.KUBECTL ?? 'kubectl';
  const argv = ['--context', target.context, '--namespace', target.namespace, ...args];
  const display = `kubectl ${argv.join(' ')}`;
  // Heartbeat while kubectl runs, so a worker that dies mid-call is noticed within the heartbeat
  // timeout and the (check-then-act) activity is retried elsewhere, not after its start-to-close.
  const beat = setInterval(heartbeatIfInActivity, HEARTBEAT_EVERY_MS);
  return new Promise((resolve, reject) => {
    launchFile(
      binary,
      argv,
      { timeout: options.timeoutMs, maxBuffer: 32 * 1024 * 1024, killSignal: 'SIGKILL' },
      (error, stdout, stderr) => {
        clearInterval(beat);
        if (!error) return resolve({ argv: ['kubectl', ...argv], stdout, stderr });
        if (error.code === 'ENOENT') {
          return reject(
            ApplicationFailure.create({
              type: 'KubectlMissing',
              nonRetryable: true,
              message: `kubectl is not installed or not on PATH of the worker (tried "${binary}"); install kubectl and configure the "${target.context}" context`,
            }),
          );
        }
        if (error.killed) {
          return reject(
            ApplicationFailure.create({
              type: 'KubectlTimeout',
              message: `${display}: no answer within ${options.timeoutMs} ms`,
            }),
          );
        }
        const detail = stderr.trim().split('\n').slice(-5).join(' | ') || failureWithoutOutput(error);
        const permanent = PERMANENT.test(stderr);
        reject(
          ApplicationFailure.create({
            type: permanent ? 'KubectlRejected' : 'KubectlFailed',
            nonRetryable: permanent,
            message: `${display}: ${detail}`,
            details: [{ exitCode: error.code ?? null }],
          }),
        );
      },
    );
  });
}
