-- What a source's fetches said about when to fetch it again, kept between runs so a `fetch` from
-- cron and a restarted daemon honour it (`schedule::State`). Portable SQL, as in 0001. When
-- the source is next due stays in `leases.due_ms`. Sources from before start with nothing
-- remembered.
ALTER TABLE sources ADD COLUMN failures BIGINT NOT NULL DEFAULT 0;
-- The feed's own update interval (`<ttl>`, `sy:updatePeriod`), in seconds.
ALTER TABLE sources ADD COLUMN feed_interval BIGINT;
-- `<skipHours>` and `<skipDays>` as bit sets (hour h: bit h; Monday: bit 0).
ALTER TABLE sources ADD COLUMN skip_hours BIGINT NOT NULL DEFAULT 0;
ALTER TABLE sources ADD COLUMN skip_days BIGINT NOT NULL DEFAULT 0;
-- 1 after HTTP 410 Gone at `url`: not fetched until revived or its URL changes.
ALTER TABLE sources ADD COLUMN gone BIGINT NOT NULL DEFAULT 0;
