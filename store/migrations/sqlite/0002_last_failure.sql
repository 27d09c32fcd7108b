-- The video's last failure, kept after a redrive clears failure_reason (which is set only
-- while the video is `failed`): what went wrong last, permanent or retryable, and when.
-- Keep in step with ../postgres/0002_last_failure.sql.
ALTER TABLE videos ADD COLUMN last_failure TEXT;
ALTER TABLE videos ADD COLUMN last_failure_at TEXT;
