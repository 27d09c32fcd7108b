-- flightdeck store, SQLite. Keep in step with ../postgres/0001_init.sql: same tables,
-- columns, constraints and indexes; only the column types differ. STRICT tables make SQLite
-- enforce them: UUIDs are 16-byte BLOBs, timestamps RFC 3339 TEXT in UTC (written by the
-- store with a fixed offset, so text order is time order).

CREATE TABLE users (
    id            BLOB    NOT NULL PRIMARY KEY CHECK (length(id) = 16),
    email         TEXT    NOT NULL,
    -- lower-cased by the store in Rust, so both backends agree on what "the same email" is
    email_key     TEXT    NOT NULL UNIQUE,
    first_name    TEXT    NOT NULL,
    last_name     TEXT    NOT NULL,
    password_hash TEXT    NOT NULL,
    city          TEXT,
    country       TEXT,
    created_at    TEXT    NOT NULL
) STRICT;

CREATE INDEX users_city ON users (city);

CREATE TABLE videos (
    id                    BLOB    NOT NULL PRIMARY KEY CHECK (length(id) = 16),
    owner_id              BLOB    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title                 TEXT    NOT NULL,
    status                TEXT    NOT NULL
        CHECK (status IN ('queued', 'processing', 'processed', 'failed')),
    failure_reason        TEXT,
    source_key            TEXT    NOT NULL,
    processed_key         TEXT,
    original_filename     TEXT    NOT NULL,
    size_bytes            INTEGER NOT NULL CHECK (size_bytes >= 0),
    content_type          TEXT    NOT NULL,
    correlation_id        TEXT    NOT NULL,
    created_at            TEXT    NOT NULL,
    updated_at            TEXT    NOT NULL,
    processing_started_at TEXT,
    processed_at          TEXT,
    attempts              INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    CHECK (status <> 'processed' OR (processed_key IS NOT NULL AND processed_at IS NOT NULL)),
    CHECK (status <> 'failed' OR failure_reason IS NOT NULL)
) STRICT;

CREATE INDEX videos_owner_created ON videos (owner_id, created_at, id);
CREATE INDEX videos_status_processed ON videos (status, processed_at, id);

CREATE TABLE votes (
    user_id    BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    video_id   BLOB NOT NULL REFERENCES videos (id) ON DELETE CASCADE,
    created_at TEXT NOT NULL,
    PRIMARY KEY (user_id, video_id)
) STRICT;

CREATE INDEX votes_video ON votes (video_id);
