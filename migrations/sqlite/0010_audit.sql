-- What admins read to see who did what beyond records (records keep their
-- own history): sign-ins (and failed ones), token revocations, users added,
-- forms and definitions saved, packs installed and removed.
CREATE TABLE audit_log (
    id          BLOB PRIMARY KEY,
    at          TEXT NOT NULL,
    actor_id    BLOB,
    actor_email TEXT,
    action      TEXT NOT NULL,
    target      TEXT,
    detail      TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_at ON audit_log (at, id);
