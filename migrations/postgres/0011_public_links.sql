-- Public form links (外链表单): a link lets anyone with its URL create a
-- record with the link's fields only, or — signed per record — update the
-- chosen fields of one record. The URL carries an HMAC under a secret kept
-- here, so a link's id alone opens nothing.
CREATE TABLE public_links (
    id          uuid PRIMARY KEY,
    form        TEXT NOT NULL,
    mode        TEXT NOT NULL CHECK (mode IN ('create', 'update')),
    fields      jsonb NOT NULL,
    title       TEXT,
    expires_at  timestamptz,
    created_by  uuid NOT NULL,
    created_at  timestamptz NOT NULL,
    revoked_at  timestamptz
);
CREATE INDEX public_links_form ON public_links (form, created_at);

-- Server-side secrets, created on first use and shared by every instance.
CREATE TABLE secrets (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
