-- 0004: the tasks table (reference part 2, 11.8): upstream's column names,
-- types and indexes, except task_definition, which holds the TaskDefinition
-- as protobuf bytes (bytea) like the blobs of 0001. result, failure_reason
-- and rejection_reason are plain text; result is NULL until completed.
CREATE TABLE tasks (
    guid varchar(255) PRIMARY KEY,
    domain varchar(255) NOT NULL,
    updated_at bigint DEFAULT 0,
    created_at bigint DEFAULT 0,
    first_completed_at bigint DEFAULT 0,
    state integer,
    cell_id varchar(255) NOT NULL DEFAULT '',
    result text,
    failed boolean DEFAULT false,
    failure_reason varchar(1024) NOT NULL DEFAULT '',
    task_definition bytea NOT NULL,
    rejection_count integer NOT NULL DEFAULT 0,
    rejection_reason varchar(1024) NOT NULL DEFAULT ''
);
CREATE INDEX tasks_domain_idx ON tasks (domain);
CREATE INDEX tasks_state_idx ON tasks (state);
CREATE INDEX tasks_cell_id_idx ON tasks (cell_id);
CREATE INDEX tasks_updated_at_idx ON tasks (updated_at);
CREATE INDEX tasks_created_at_idx ON tasks (created_at);
CREATE INDEX tasks_first_completed_at_idx ON tasks (first_completed_at);
