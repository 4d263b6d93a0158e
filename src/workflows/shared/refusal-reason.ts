/** Why a message (signal or Update) did not count; recorded in the run's refused attempts. */
export type RefusalReason =
  | 'invalid_payload'
  | 'gate_not_open'
  | 'already_decided'
  | 'not_on_roster'
  | 'self_approval'
  | 'stale_plan'
  | 'plan_hash_mismatch'
  | 'already_approved'
  | 'signature_required'
  | 'signature_invalid'
  | 'signature_expired'
  | 'signature_reused'
  | 'unknown_signer'
  | 'signature_unverifiable'
  | 'not_authorized'
  | 'too_late'
  | 'waiver_already_used'
  | 'not_allowed'
  /** An incident handing over to its next run holds messages up to a bound; past it: send it again. */
  | 'busy';
