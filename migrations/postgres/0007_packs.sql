-- Installed template packs. `definitions` is what the pack shipped at its
-- installed version, keyed "kind/key": the base of the three-way merge an
-- upgrade makes with what is in force (an admin's changes) and the new version.
CREATE TABLE packs (
    name         TEXT PRIMARY KEY,
    version      TEXT NOT NULL,
    manifest     JSONB NOT NULL,
    definitions  JSONB NOT NULL,
    installed_at TIMESTAMPTZ NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL
);

-- Record migrations of pack upgrades, one row per (pack, step, form): the
-- last record id done is stored in the transaction that migrates its batch,
-- so an upgrade killed midway resumes after the last batch it committed and
-- no record is migrated twice.
CREATE TABLE pack_migrations (
    pack        TEXT NOT NULL,
    step        TEXT NOT NULL,
    form        TEXT NOT NULL,
    after_id    TEXT,
    migrated    BIGINT NOT NULL DEFAULT 0,
    finished_at TIMESTAMPTZ,
    PRIMARY KEY (pack, step, form)
);
