-- What admins read to see who did what beyond records (records keep their
-- own history): sign-ins (and failed ones), token revocations, users added,
-- forms and definitions saved, packs installed and removed.
CREATE TABLE audit_log (
    id          uuid PRIMARY KEY,
    at          timestamptz NOT NULL,
    actor_id    uuid,
    actor_email TEXT,
    action      TEXT NOT NULL,
    target      TEXT,
    detail      jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_at ON audit_log (at, id);
