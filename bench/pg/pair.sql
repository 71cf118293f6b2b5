-- bench/pg/pair.sql - one claim+start pair as PostgreSQL sees it from our
-- server (src/store/pool.c, alrp_store.c, changelog.c), for pgbench
-- (bench/pgfloor): two transactions, each in the server's two pipelined
-- round trips: [BEGIN, fence, the instance's rows FOR UPDATE] and
-- [UPDATE, the change log's insert of two events, COMMIT]. No TLS, no
-- server, no load generator: what is left is PostgreSQL's own share.
-- Variables: :term (bbs_leader's), :rows (how many pgf-N rows exist),
-- :pa and :pb (the two events' payloads, bytea hex text: the instance event
-- and the legacy group event, whose sizes bench/pgfloor takes from the
-- cluster's own events).
\set n random(1, :rows)
\startpipeline
BEGIN;
SELECT bbs_fence(:term);
SELECT process_guid, instance_index, presence, domain, state, instance_guid, cell_id, since, crash_count, crash_reason, placement_error, net_info, internal_routes, metric_tags, routable, availability_zone, modification_tag_epoch, modification_tag_index FROM actual_lrps WHERE process_guid = 'pgf-' || :n::text AND instance_index = 0 FOR UPDATE;
\endpipeline
\startpipeline
UPDATE actual_lrps SET state = 'CLAIMED', instance_guid = 'ig-' || :n::text, cell_id = 'cell-pgf', since = :n::int8, modification_tag_index = modification_tag_index + 1 WHERE process_guid = 'pgf-' || :n::text AND instance_index = 0 AND presence = 0;
INSERT INTO event_log (name, streams, cell_id_a, cell_id_b, payload, payload_v0) SELECT * FROM unnest(ARRAY['actual_lrp_instance_changed', 'actual_lrp_changed']::text[], ARRAY[1, 2]::int4[], ARRAY['cell-pgf', NULL]::text[], ARRAY[NULL, 'cell-pgf']::text[], ARRAY[:pa::bytea, :pb::bytea], ARRAY[NULL, NULL]::bytea[]);
COMMIT;
\endpipeline
\startpipeline
BEGIN;
SELECT bbs_fence(:term);
SELECT process_guid, instance_index, presence, domain, state, instance_guid, cell_id, since, crash_count, crash_reason, placement_error, net_info, internal_routes, metric_tags, routable, availability_zone, modification_tag_epoch, modification_tag_index FROM actual_lrps WHERE process_guid = 'pgf-' || :n::text AND instance_index = 0 FOR UPDATE;
\endpipeline
\startpipeline
UPDATE actual_lrps SET state = 'RUNNING', net_info = :pa::bytea, since = :n::int8 + 1, modification_tag_index = modification_tag_index + 1 WHERE process_guid = 'pgf-' || :n::text AND instance_index = 0 AND presence = 0;
INSERT INTO event_log (name, streams, cell_id_a, cell_id_b, payload, payload_v0) SELECT * FROM unnest(ARRAY['actual_lrp_instance_changed', 'actual_lrp_changed']::text[], ARRAY[1, 2]::int4[], ARRAY['cell-pgf', NULL]::text[], ARRAY[NULL, 'cell-pgf']::text[], ARRAY[:pa::bytea, :pb::bytea], ARRAY[NULL, NULL]::bytea[]);
COMMIT;
\endpipeline
