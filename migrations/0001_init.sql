-- 0001: domains, desired LRPs, actual LRPs.
--
-- Column names follow upstream BBS where the meaning is the same. Blobs are
-- stored as protobuf bytes (bytea), pre-encoded so that reads splice them
-- into responses without decoding:
--   actual_lrps.net_info         ActualLRPNetInfo message
--   actual_lrps.internal_routes  ActualLRP field 11 entries (NULL = absent list)
--   actual_lrps.metric_tags      ActualLRP field 12 map entries, sorted by key (NULL = absent)
--   desired_lrps.routes          ProtoRoutes message (JSON values canonicalised)
--   desired_lrps.volume_placement VolumePlacement message
--   desired_lrps.placement_tags  repeated string field 1
--   desired_lrps.metric_tags     map entries (key, MetricTagValue) as field 1, sorted by key
--   desired_lrps.run_info        DesiredLRP message holding only the fields no
--                                update can change (actions, env, ports, ...)

CREATE TABLE domains (
    domain      VARCHAR(255) PRIMARY KEY,
    expire_time BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX domains_expire_time_idx ON domains (expire_time);

CREATE TABLE desired_lrps (
    process_guid           VARCHAR(255) PRIMARY KEY,
    domain                 VARCHAR(255) NOT NULL,
    log_guid               VARCHAR(255) NOT NULL,
    annotation             TEXT NOT NULL DEFAULT '',
    instances              INT NOT NULL,
    memory_mb              INT NOT NULL,
    disk_mb                INT NOT NULL,
    max_pids               INT NOT NULL DEFAULT 0,
    rootfs                 VARCHAR(1024) NOT NULL,
    routes                 BYTEA NOT NULL,
    volume_placement       BYTEA NOT NULL,
    placement_tags         BYTEA NOT NULL,
    metric_tags            BYTEA NOT NULL,
    metrics_guid           TEXT NOT NULL DEFAULT '',
    update_strategy        INT NOT NULL DEFAULT 0,
    modification_tag_epoch VARCHAR(255) NOT NULL,
    modification_tag_index INT NOT NULL DEFAULT 0,
    run_info               BYTEA NOT NULL,
    created_at             BIGINT NOT NULL
);
CREATE INDEX desired_lrps_domain_idx ON desired_lrps (domain);

CREATE TABLE actual_lrps (
    process_guid           VARCHAR(255) NOT NULL,
    instance_index         INT NOT NULL,
    presence               INT NOT NULL DEFAULT 0,
    domain                 VARCHAR(255) NOT NULL,
    state                  VARCHAR(255) NOT NULL,
    instance_guid          VARCHAR(255) NOT NULL DEFAULT '',
    cell_id                VARCHAR(255) NOT NULL DEFAULT '',
    placement_error        VARCHAR(1024) NOT NULL DEFAULT '',
    since                  BIGINT NOT NULL DEFAULT 0,
    net_info               BYTEA NOT NULL DEFAULT '',
    modification_tag_epoch VARCHAR(255) NOT NULL,
    modification_tag_index INT NOT NULL DEFAULT 0,
    crash_count            INT NOT NULL DEFAULT 0,
    crash_reason           VARCHAR(1024) NOT NULL DEFAULT '',
    internal_routes        BYTEA,
    metric_tags            BYTEA,
    routable               BOOL NOT NULL DEFAULT false,
    availability_zone      VARCHAR(255) NOT NULL DEFAULT '',
    PRIMARY KEY (process_guid, instance_index, presence)
);
CREATE INDEX actual_lrps_domain_idx ON actual_lrps (domain);
CREATE INDEX actual_lrps_cell_id_idx ON actual_lrps (cell_id);
CREATE INDEX actual_lrps_since_idx ON actual_lrps (since);
CREATE INDEX actual_lrps_state_idx ON actual_lrps (state);
