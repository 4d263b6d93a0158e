/**
 * A problem with how the worker or a command was configured or invoked: printed as one readable
 * message (no stack trace) and the process exits non-zero.
 */
export class ConfigurationError extends Error {
  override readonly name = 'ConfigurationError';
}
