-- bench/pg/pair-cas.sql - the pair of pair.sql as it would be if the
-- server decided on the rows it last wrote itself (an instance it created
-- or claimed) and wrote in one round trip: [BEGIN, fence, the UPDATE only
-- where the ordinary row is still the version decided on and no other row
-- of the instance exists, the change log's insert only where the UPDATE
-- happened, COMMIT]. A what-if for bench/pgfloor (not what the server
-- does). pgbench keeps no state between transactions, so the version
-- check here is a comparison that always holds (modification_tag_index
-- >= 0): it costs what a real one would, and never misses.
\set n random(1, :rows)
\startpipeline
BEGIN;
SELECT bbs_fence(:term);
WITH u AS (UPDATE actual_lrps SET state = 'CLAIMED', instance_guid = 'ig-' || :n::text, cell_id = 'cell-pgf', since = :n::int8, modification_tag_index = modification_tag_index + 1 WHERE process_guid = 'pgf-' || :n::text AND instance_index = 0 AND presence = 0 AND modification_tag_index >= 0 AND NOT EXISTS (SELECT 1 FROM actual_lrps s WHERE s.process_guid = 'pgf-' || :n::text AND s.instance_index = 0 AND s.presence <> 0) RETURNING 1) INSERT INTO event_log (name, streams, cell_id_a, cell_id_b, payload, payload_v0) SELECT * FROM unnest(ARRAY['actual_lrp_instance_changed', 'actual_lrp_changed']::text[], ARRAY[1, 2]::int4[], ARRAY['cell-pgf', NULL]::text[], ARRAY[NULL, 'cell-pgf']::text[], ARRAY[:pa::bytea, :pb::bytea], ARRAY[NULL, NULL]::bytea[]) WHERE EXISTS (SELECT 1 FROM u);
COMMIT;
\endpipeline
\startpipeline
BEGIN;
SELECT bbs_fence(:term);
WITH u AS (UPDATE actual_lrps SET state = 'RUNNING', net_info = :pa::bytea, since = :n::int8 + 1, modification_tag_index = modification_tag_index + 1 WHERE process_guid = 'pgf-' || :n::text AND instance_index = 0 AND presence = 0 AND modification_tag_index >= 0 AND NOT EXISTS (SELECT 1 FROM actual_lrps s WHERE s.process_guid = 'pgf-' || :n::text AND s.instance_index = 0 AND s.presence <> 0) RETURNING 1) INSERT INTO event_log (name, streams, cell_id_a, cell_id_b, payload, payload_v0) SELECT * FROM unnest(ARRAY['actual_lrp_instance_changed', 'actual_lrp_changed']::text[], ARRAY[1, 2]::int4[], ARRAY['cell-pgf', NULL]::text[], ARRAY[NULL, 'cell-pgf']::text[], ARRAY[:pa::bytea, :pb::bytea], ARRAY[NULL, NULL]::bytea[]) WHERE EXISTS (SELECT 1 FROM u);
COMMIT;
\endpipeline
