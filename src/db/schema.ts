import type { Database } from 'better-sqlite3';

/**
 * The schema, as an ordered list of migrations. Migration i (0-based) takes a database at version i to
 * version i + 1; the version lives in `PRAGMA user_version`. Never edit a migration that has shipped:
 * append a new one. Each runs inside its own SQLite transaction together with the version bump.
 */
export type Migration = (sql: Database) => void;

/** 'OMRG': marks the file as an overmerge database (PRAGMA application_id). */
export const APPLICATION_ID = 0x4f4d5247;

const v1: Migration = (sql) => {
  sql.exec(`
    CREATE TABLE transactions (
      id           INTEGER PRIMARY KEY,
      kind         TEXT    NOT NULL,
      args         TEXT    NOT NULL DEFAULT '[]',
      state        TEXT    NOT NULL DEFAULT 'open'
                   CHECK (state IN ('open','committed','aborted','recovered-old','recovered-new','rolled-back')),
      started_at   INTEGER NOT NULL,
      finished_at  INTEGER,
      backups_kept INTEGER NOT NULL DEFAULT 0 CHECK (backups_kept IN (0, 1)),
      pid          INTEGER,
      target_txn   INTEGER REFERENCES transactions(id),
      error        TEXT
    );
    -- Finding unfinished transactions must not scan the history.
    CREATE INDEX transactions_open ON transactions(id) WHERE state = 'open';

    CREATE TABLE txn_packages (
      txn_id       INTEGER NOT NULL REFERENCES transactions(id) ON DELETE CASCADE,
      seq          INTEGER NOT NULL,
      name         TEXT    NOT NULL,
      architecture TEXT    NOT NULL,
      action       TEXT    NOT NULL
                   CHECK (action IN ('install','upgrade','downgrade','reinstall','remove','purge')),
      old_version  TEXT,
      new_version  TEXT,
      PRIMARY KEY (txn_id, seq)
    ) WITHOUT ROWID;

    CREATE TABLE packages (
      id             INTEGER PRIMARY KEY,
      name           TEXT    NOT NULL,
      architecture   TEXT    NOT NULL,
      version        TEXT    NOT NULL,
      status         TEXT    NOT NULL
                     CHECK (status IN ('not-installed','config-files','half-installed','unpacked',
                                       'half-configured','triggers-awaited','triggers-pending','installed')),
      control        TEXT    NOT NULL,
      installed_size INTEGER,
      installed_at   INTEGER NOT NULL,
      changed_at     INTEGER NOT NULL,
      txn_id         INTEGER REFERENCES transactions(id) ON DELETE SET NULL,
      UNIQUE (name, architecture)
    );

    CREATE TABLE files (
      id            INTEGER PRIMARY KEY,
      package_id    INTEGER NOT NULL REFERENCES packages(id) ON DELETE CASCADE,
      path          TEXT    NOT NULL,
      type          TEXT    NOT NULL
                    CHECK (type IN ('file','directory','symlink','hardlink','fifo','char','block')),
      mode          INTEGER NOT NULL,
      uid           INTEGER NOT NULL,
      gid           INTEGER NOT NULL,
      size          INTEGER NOT NULL DEFAULT 0,
      sha256        TEXT,
      md5           TEXT,
      mtime         INTEGER,
      link_target   TEXT,
      dev_major     INTEGER,
      dev_minor     INTEGER,
      conffile      INTEGER NOT NULL DEFAULT 0 CHECK (conffile IN (0, 1)),
      conffile_hash TEXT,
      -- Also the index behind "files of package N", in path order.
      UNIQUE (package_id, path)
    );
    -- Owner lookups, conflict checks and "anything under D/" range scans; package_id makes them covering.
    CREATE INDEX files_path ON files(path, package_id);

    CREATE TABLE journal (
      id     INTEGER PRIMARY KEY,
      txn_id INTEGER NOT NULL REFERENCES transactions(id) ON DELETE CASCADE,
      seq    INTEGER NOT NULL,
      kind   TEXT    NOT NULL,
      data   TEXT    NOT NULL DEFAULT '{}',
      state  TEXT    NOT NULL DEFAULT 'intent' CHECK (state IN ('intent','done','undone')),
      UNIQUE (txn_id, seq)
    );

    -- The content-addressed store: one row per stored blob (the fs layer derives its location from the hash).
    CREATE TABLE backups (
      sha256    TEXT    PRIMARY KEY,
      size      INTEGER NOT NULL,
      stored_at INTEGER NOT NULL
    ) WITHOUT ROWID;
    -- Which transaction kept which blob for which path; a blob with no reference left may be deleted.
    CREATE TABLE txn_backups (
      txn_id INTEGER NOT NULL REFERENCES transactions(id) ON DELETE CASCADE,
      path   TEXT    NOT NULL,
      sha256 TEXT    NOT NULL REFERENCES backups(sha256),
      PRIMARY KEY (txn_id, path)
    ) WITHOUT ROWID;
    CREATE INDEX txn_backups_sha256 ON txn_backups(sha256);
  `);
  sql.pragma(`application_id = ${APPLICATION_ID}`);
};

/**
 * What `rollback` needs besides the stored blobs: each package's rows as they were before a transaction
 * that kept its backups (NULL: the package was not there), and the unowned paths it created
 * (`.dpkg-dist`, `.dpkg-old`).
 */
const v2: Migration = (sql) => {
  sql.exec(`
    CREATE TABLE txn_snapshots (
      txn_id       INTEGER NOT NULL REFERENCES transactions(id) ON DELETE CASCADE,
      seq          INTEGER NOT NULL,
      name         TEXT    NOT NULL,
      architecture TEXT    NOT NULL,
      before       TEXT,
      PRIMARY KEY (txn_id, seq)
    ) WITHOUT ROWID;
    CREATE TABLE txn_extras (
      txn_id INTEGER NOT NULL REFERENCES transactions(id) ON DELETE CASCADE,
      path   TEXT    NOT NULL,
      PRIMARY KEY (txn_id, path)
    ) WITHOUT ROWID;
  `);
};

/**
 * A transaction's package changes can also be configuring a package, deconfiguring one (dpkg's Breaks),
 * its disappearance (every file taken over) and trigger processing. SQLite cannot change a CHECK in
 * place: the table is made again.
 */
const v3: Migration = (sql) => {
  sql.exec(`
    CREATE TABLE txn_packages_v3 (
      txn_id       INTEGER NOT NULL REFERENCES transactions(id) ON DELETE CASCADE,
      seq          INTEGER NOT NULL,
      name         TEXT    NOT NULL,
      architecture TEXT    NOT NULL,
      action       TEXT    NOT NULL
                   CHECK (action IN ('install','upgrade','downgrade','reinstall','remove','purge',
                                     'configure','deconfigure','disappear','trigger')),
      old_version  TEXT,
      new_version  TEXT,
      PRIMARY KEY (txn_id, seq)
    ) WITHOUT ROWID;
    INSERT INTO txn_packages_v3 SELECT txn_id, seq, name, architecture, action, old_version, new_version FROM txn_packages;
    DROP TABLE txn_packages;
    ALTER TABLE txn_packages_v3 RENAME TO txn_packages;
  `);
};

/** A fingerprint of each package's stanza in dpkg's database, as overmerge last wrote or read it. */
const v4: Migration = (sql) => {
  sql.exec(`
    CREATE TABLE dpkg_mirror (
      package_id  INTEGER PRIMARY KEY REFERENCES packages(id) ON DELETE CASCADE,
      fingerprint TEXT    NOT NULL
    );
  `);
};

export const MIGRATIONS: readonly Migration[] = [v1, v2, v3, v4];

/** The schema version this code writes and understands. */
export const SCHEMA_VERSION = MIGRATIONS.length;
