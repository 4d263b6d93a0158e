/** Compiled workflow entry point, for the bundler. */
export const WORKFLOWS_PATH = require.resolve('../workflows');
