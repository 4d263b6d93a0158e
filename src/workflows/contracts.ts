import { backstopProgramContract } from './backstop-program/definitions';
import { breakGlassConsoleEditContract } from './break-glass-console-edit/definitions';
import { breakGlassDrillContract } from './break-glass-drill/definitions';
import { breakGlassOverwriteRecoveryContract } from './break-glass-overwrite-recovery/definitions';
import { breakGlassRebootstrapContract } from './break-glass-rebootstrap/definitions';
import { incidentContract } from './incident/definitions';
import { breakGlassRestoreContract } from './break-glass-restore/definitions';
import { freezeLiftContract } from './freeze-lift/definitions';
import { releaseRollbackContract } from './release-rollback/definitions';
import { phasedReenablementContract } from './phased-reenablement/definitions';
import { rollbackToPilotContract } from './rollback-to-pilot/definitions';
import type { MessageContract } from './shared/messages';

/** Every workflow type's message contract (each owned by its definitions.ts), by workflow type. */
export const MESSAGE_CONTRACTS: Record<string, MessageContract> = Object.fromEntries(
  [
    breakGlassRestoreContract,
    breakGlassConsoleEditContract,
    breakGlassOverwriteRecoveryContract,
    breakGlassRebootstrapContract,
    breakGlassDrillContract,
    rollbackToPilotContract,
    phasedReenablementContract,
    backstopProgramContract,
    incidentContract,
    releaseRollbackContract,
    freezeLiftContract,
  ].map((contract) => [contract.workflowType, contract]),
);
