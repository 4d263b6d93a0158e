/**
 * Every workflow the `runbooks` task queue serves. This module is the worker's `workflowsPath`:
 * it exports workflow functions only (definitions live beside each workflow), each with its
 * Worker Versioning behaviour (./versioning).
 */
import * as workflows from './all';
import { declareVersioning } from './versioning';

declareVersioning(workflows);

export * from './all';
