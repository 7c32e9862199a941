-- API keys: only a SHA-256 of the secret part is stored. Keys are 256-bit
-- random tokens, so a fast hash is enough (no password-style stretching).
CREATE TABLE api_keys (
    id           text PRIMARY KEY,              -- the public part of the token
    name         text NOT NULL,
    role         text NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
    secret_sha256 text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    revoked_at   timestamptz,
    last_used_at timestamptz
);
