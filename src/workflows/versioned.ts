/**
 * The workflows a versioned worker (RUNBOOKS_DEPLOYMENT_NAME + RUNBOOKS_BUILD_ID) serves: those of
 * ./index (each loaded on its first call, see ./bundle-entry), each with its Worker Versioning
 * behaviour (./versioning). Only for versioned workers: the server refuses a workflow task that
 * names a behaviour from a worker that is not versioned ("versioning behavior cannot be specified
 * without deployment options").
 */
import * as workflows from './bundle-entry';
import { declareVersioning } from './versioning';

declareVersioning(workflows);

export * from './bundle-entry';
