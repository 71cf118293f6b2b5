-- 0002: let claim and start updates be HOT.
--
-- No query reads actual_lrps by `state` or `since` (lookups go through the
-- primary key, lists through cell_id or domain), yet both change on every
-- claim, start and crash, so every update wrote all five indexes and was
-- never a heap-only tuple update. Dropping the two unused indexes and
-- leaving room on each page lets a start after a claim by the same cell (the
-- common case) update in place without touching any index.
DROP INDEX IF EXISTS actual_lrps_state_idx;
DROP INDEX IF EXISTS actual_lrps_since_idx;
ALTER TABLE actual_lrps SET (fillfactor = 85);
