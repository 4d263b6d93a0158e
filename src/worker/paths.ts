/** Compiled workflow entry points, for the bundler: an unversioned worker's and a versioned one's. */
export const WORKFLOWS_PATH = require.resolve('../workflows');
export const VERSIONED_WORKFLOWS_PATH = require.resolve('../workflows/versioned');
