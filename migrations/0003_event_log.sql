-- 0003: the change log the event streams are fed from (docs/architecture.md,
-- "Event log and hub").
--
-- Writers insert a change's events in the transaction of the change, with
-- `seq` NULL. `id` is the insert order, which is not the commit order of
-- unrelated writers, so the hub assigns `seq` (the SSE event id, dense and
-- in the order the hub saw the rows committed) in one UPDATE. The stream
-- mask and the two cell ids let the hub route an event without decoding it.
CREATE TABLE event_log (
    id bigserial PRIMARY KEY,
    seq bigint,
    created_at timestamptz NOT NULL DEFAULT now(),
    name text NOT NULL,
    streams integer NOT NULL,
    cell_id_a text,
    cell_id_b text,
    payload bytea NOT NULL,
    payload_v0 bytea
);
CREATE INDEX event_log_unsequenced_idx ON event_log (id) WHERE seq IS NULL;
CREATE UNIQUE INDEX event_log_seq_idx ON event_log (seq) WHERE seq IS NOT NULL;
