-- 0007: an event's id (seq) is taken at insert, from a sequence, instead of
-- being given afterwards by the hub's numbering UPDATE, which rewrote every
-- event row (a new heap tuple and two index entries each: a fifth of
-- PostgreSQL's work per claim or start, docs/performance.md).
--
-- Ids are handed out in insert order, which is not the commit order of
-- unrelated writers; the leader's hub delivers up to an id only once every
-- transaction that may hold a smaller one has ended (docs/architecture.md,
-- "Event log and hub"). Ids stay increasing but are no longer dense (a
-- rolled-back insert leaves a hole), so what pruning removed is now kept as
-- a watermark (event_log_pruned.upto) rather than read from the oldest id.
--
-- Rows the old hub had not numbered yet are numbered here, in id order,
-- after the largest id given. The partial index on unnumbered rows stays:
-- no row is born unnumbered any more, so it stays empty and costs nothing,
-- and a server of the previous version still running during an upgrade
-- finds its (now empty) numbering work through it, not by a scan.
WITH p AS (SELECT id, row_number() OVER (ORDER BY id) AS rn FROM event_log WHERE seq IS NULL),
     m AS (SELECT coalesce(max(seq), 0) AS last FROM event_log WHERE seq IS NOT NULL)
UPDATE event_log e SET seq = m.last + p.rn FROM p, m WHERE e.id = p.id;

CREATE SEQUENCE event_log_seq_seq OWNED BY event_log.seq;
SELECT setval('event_log_seq_seq', coalesce(max(seq), 1), max(seq) IS NOT NULL) FROM event_log;
ALTER TABLE event_log ALTER COLUMN seq SET DEFAULT nextval('event_log_seq_seq');

-- The largest id pruning has removed (0: none). Rows older than the
-- retention may have gone before this migration: the ids below the oldest
-- one kept count as pruned.
CREATE TABLE event_log_pruned (
    id   SMALLINT PRIMARY KEY CHECK (id = 1),
    upto BIGINT NOT NULL
);
INSERT INTO event_log_pruned SELECT 1, coalesce(min(seq) - 1, max(seq), 0) FROM event_log;
