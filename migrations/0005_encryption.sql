-- 0005: encryption at rest (reference 6.3; src/store/sealed.c).
--
-- configurations: upstream's table (6.1); the row 'encryption_key_label'
-- holds the active key label once every row was re-sealed with it.
CREATE TABLE IF NOT EXISTS configurations (
    id    VARCHAR(255) PRIMARY KEY,
    value VARCHAR(255)
);

-- Every key label rows may be sealed with, and a value sealed with it
-- (a fixed plaintext) that proves at start-up that the configured
-- passphrase for the label is the one that sealed the rows. A label is
-- removed once re-keying left no row under it.
CREATE TABLE encryption_keys_in_use (
    label       VARCHAR(127) PRIMARY KEY,
    check_value BYTEA NOT NULL
);

-- Rows whose sealed values do not open (kept, never deleted): listed by
-- the re-keying pass for operators, cleared when a later pass opens them.
CREATE TABLE encryption_undecryptable (
    table_name  VARCHAR(64) NOT NULL,
    row_key     TEXT NOT NULL,
    column_name VARCHAR(64) NOT NULL,
    label       VARCHAR(127) NOT NULL,
    error       TEXT NOT NULL,
    seen_at     BIGINT NOT NULL,
    PRIMARY KEY (table_name, row_key, column_name)
);
