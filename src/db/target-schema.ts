/**
 * The break-glass target as seed 000 uses it: the live row `ftf_config(id = 1)` and its append-only
 * history. Production already has these tables; the local stack and the tests create them here.
 */
export const FTF_TARGET_DDL = `
CREATE TABLE IF NOT EXISTS ftf_config (
  id          integer PRIMARY KEY,
  base_env    jsonb       NOT NULL,
  version     text        NOT NULL,
  locked_by   text,
  updated_at  timestamptz NOT NULL DEFAULT now(),
  updated_by  text        NOT NULL
);

CREATE TABLE IF NOT EXISTS ftf_config_history (
  id            bigserial   PRIMARY KEY,
  base_env      jsonb       NOT NULL,
  version       text        NOT NULL,
  locked_by     text,
  changed_by    text        NOT NULL,
  change_reason text,
  parent_id     bigint,
  diff          jsonb,
  tags          jsonb       NOT NULL DEFAULT '[]'::jsonb,
  changed_at    timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX IF NOT EXISTS ftf_config_history_changed_at_idx ON ftf_config_history (changed_at DESC);
`;
