-- 0006: leadership and fencing (src/worker/lead.c, docs/operations.md "Leadership").
--
-- One row: the leader's term, who holds it, the backend pid of its lease
-- connection and when the lease expires. The term goes up by one at every
-- take-over (lease mode and Locket mode alike); every write transaction
-- calls bbs_fence(its term) first, so a deposed leader cannot commit.
CREATE TABLE bbs_leader (
    id          SMALLINT PRIMARY KEY CHECK (id = 1),
    term        BIGINT NOT NULL,
    owner       TEXT NOT NULL,
    backend_pid INTEGER NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL,
    changed_at  TIMESTAMPTZ NOT NULL
);
INSERT INTO bbs_leader VALUES (1, 0, '', 0, 'epoch', now());

-- Called first in every write transaction: a shared transaction-level
-- advisory lock (a take-over holds it exclusively, so it waits for, or
-- ends, the writes in flight, and later ones see the new term), then the
-- term check. SQLSTATE BB001 = fenced out.
CREATE FUNCTION bbs_fence(p_term BIGINT) RETURNS VOID LANGUAGE plpgsql AS $$
DECLARE
    cur BIGINT;
BEGIN
    PERFORM pg_advisory_xact_lock_shared(1112888098);
    SELECT term INTO cur FROM bbs_leader WHERE id = 1;
    IF cur IS DISTINCT FROM p_term THEN
        RAISE EXCEPTION 'fenced out: this server leads term %, the database is at term %',
            p_term, cur USING ERRCODE = 'BB001';
    END IF;
END
$$;

-- Take leadership: the new term (> 0); 0 when another server holds a live
-- lease (owner set, not expired, its lease connection still open); -1
-- when writes of the previous leader are still in flight (they are ended
-- here; call again). p_force (Locket mode: the lock is the authority)
-- skips the lease check.
CREATE FUNCTION bbs_lead_try(p_owner TEXT, p_ttl_ms BIGINT, p_force BOOLEAN)
RETURNS BIGINT LANGUAGE plpgsql AS $$
DECLARE
    r bbs_leader;
BEGIN
    SELECT * INTO r FROM bbs_leader WHERE id = 1 FOR UPDATE;
    IF NOT p_force AND r.owner <> '' AND r.expires_at > clock_timestamp()
       AND r.backend_pid <> pg_backend_pid()
       AND EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = r.backend_pid) THEN
        RETURN 0;
    END IF;
    IF NOT pg_try_advisory_xact_lock(1112888098) THEN
        PERFORM pg_terminate_backend(l.pid) FROM pg_locks l
         WHERE l.locktype = 'advisory' AND l.classid = 0 AND l.objid = 1112888098
           AND l.objsubid = 1 AND l.granted AND l.pid <> pg_backend_pid();
        RETURN -1;
    END IF;
    IF NOT p_force AND r.backend_pid <> 0 AND r.backend_pid <> pg_backend_pid() THEN
        -- A paused or cut-off leader: its lease connection goes.
        PERFORM pg_terminate_backend(r.backend_pid);
    END IF;
    UPDATE bbs_leader
       SET term = term + 1, owner = p_owner, backend_pid = pg_backend_pid(),
           expires_at = clock_timestamp() + p_ttl_ms * INTERVAL '1 millisecond',
           changed_at = clock_timestamp()
     WHERE id = 1
    RETURNING term INTO r.term;
    RETURN r.term;
END
$$;

-- Keep the lease of term p_term: true, or NULL when another term leads.
CREATE FUNCTION bbs_lead_renew(p_term BIGINT, p_ttl_ms BIGINT) RETURNS BOOLEAN
LANGUAGE sql AS $$
    UPDATE bbs_leader
       SET expires_at = clock_timestamp() + p_ttl_ms * INTERVAL '1 millisecond',
           backend_pid = pg_backend_pid()
     WHERE id = 1 AND term = p_term
    RETURNING true
$$;

-- Give the lease of term p_term up (a standby takes over at its next poll).
CREATE FUNCTION bbs_lead_release(p_term BIGINT) RETURNS BOOLEAN LANGUAGE sql AS $$
    UPDATE bbs_leader
       SET owner = '', backend_pid = 0, expires_at = clock_timestamp(),
           changed_at = clock_timestamp()
     WHERE id = 1 AND term = p_term
    RETURNING true
$$;

-- The optional database health check (enable_db_health_check; upstream's
-- table): the leader upserts row 1 with the time and reads it back.
CREATE TABLE bbs_health_check (
    id   SERIAL PRIMARY KEY,
    time BIGINT NOT NULL
);
