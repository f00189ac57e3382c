-- rollcall schema, version 1. Never edit this file once it has landed: add a new numbered
-- folder instead. Times are Unix milliseconds (UTC) in columns named *_ms.

-- A class (a group of students that meets in sessions), for example "7B".
CREATE TABLE classes (
    id                  INTEGER PRIMARY KEY,
    name                TEXT    NOT NULL UNIQUE CHECK (length(trim(name)) > 0),
    -- Per-class override of the active encoder's distance threshold (NULL = model default).
    threshold_override  REAL    CHECK (threshold_override IS NULL OR threshold_override > 0),
    -- Minutes after a session starts after which an automatic mark counts as late.
    late_after_minutes  INTEGER NOT NULL DEFAULT 10 CHECK (late_after_minutes >= 0),
    created_ms          INTEGER NOT NULL
);

-- A student. Removing a student keeps their attendance history: removed_ms is set instead.
CREATE TABLE students (
    id            INTEGER PRIMARY KEY,
    display_name  TEXT    NOT NULL CHECK (length(trim(display_name)) > 0),
    -- Optional school number or other identifier chosen by the school.
    external_id   TEXT    UNIQUE,
    created_ms    INTEGER NOT NULL,
    removed_ms    INTEGER
);

-- Class membership (a student may be in several classes).
CREATE TABLE class_members (
    class_id    INTEGER NOT NULL REFERENCES classes (id) ON DELETE CASCADE,
    student_id  INTEGER NOT NULL REFERENCES students (id) ON DELETE CASCADE,
    joined_ms   INTEGER NOT NULL,
    PRIMARY KEY (class_id, student_id)
);
CREATE INDEX class_members_by_student ON class_members (student_id);

-- Registry of face encoders. id is the model id every embedding is tagged with.
CREATE TABLE encoders (
    id                 TEXT    PRIMARY KEY,
    name               TEXT    NOT NULL,
    -- Folder holding model.json and model.safetensors, or "builtin:<name>" for a bundled model.
    path               TEXT    NOT NULL,
    metric             TEXT    NOT NULL CHECK (metric IN ('euclidean', 'cosine')),
    dim                INTEGER NOT NULL CHECK (dim > 0),
    default_threshold  REAL    NOT NULL CHECK (default_threshold > 0),
    default_margin     REAL    NOT NULL DEFAULT 0 CHECK (default_margin >= 0),
    is_active          INTEGER NOT NULL DEFAULT 0 CHECK (is_active IN (0, 1)),
    created_ms         INTEGER NOT NULL
);
-- At most one encoder is active at a time.
CREATE UNIQUE INDEX encoders_one_active ON encoders (is_active) WHERE is_active = 1;

-- The one enrollment photo of a student and what was measured on it.
CREATE TABLE enrollments (
    student_id     INTEGER PRIMARY KEY REFERENCES students (id) ON DELETE CASCADE,
    photo          BLOB    NOT NULL,
    photo_format   TEXT    NOT NULL,
    -- The aligned face chip (PNG), when a face was found.
    face_crop      BLOB,
    -- Quality figures as JSON (face size, blur, exposure, pose) and the warnings shown.
    quality_json   TEXT,
    enrolled_ms    INTEGER NOT NULL
);

-- Embeddings of enrollment photos, one per student and encoder, so switching encoders can
-- re-embed in the background and resume after a crash.
CREATE TABLE embeddings (
    student_id  INTEGER NOT NULL REFERENCES students (id) ON DELETE CASCADE,
    model_id    TEXT    NOT NULL REFERENCES encoders (id) ON DELETE CASCADE,
    -- Little-endian f32 values.
    vector      BLOB    NOT NULL,
    created_ms  INTEGER NOT NULL,
    PRIMARY KEY (student_id, model_id)
);

-- A class meeting. The encoder, threshold and margin in force are recorded with it.
CREATE TABLE sessions (
    id                  INTEGER PRIMARY KEY,
    class_id            INTEGER NOT NULL REFERENCES classes (id) ON DELETE RESTRICT,
    started_ms          INTEGER NOT NULL,
    ended_ms            INTEGER CHECK (ended_ms IS NULL OR ended_ms >= started_ms),
    model_id            TEXT    REFERENCES encoders (id) ON DELETE SET NULL,
    threshold           REAL,
    margin              REAL,
    late_after_minutes  INTEGER NOT NULL DEFAULT 10
);
CREATE INDEX sessions_by_class ON sessions (class_id, started_ms);
-- At most one open session per class.
CREATE UNIQUE INDEX sessions_one_open ON sessions (class_id) WHERE ended_ms IS NULL;

-- One attendance mark per student per session, with the evidence behind it.
CREATE TABLE marks (
    id                      INTEGER PRIMARY KEY,
    session_id              INTEGER NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    student_id              INTEGER NOT NULL REFERENCES students (id) ON DELETE RESTRICT,
    status                  TEXT    NOT NULL CHECK (status IN ('present', 'late', 'absent', 'excused')),
    source                  TEXT    NOT NULL CHECK (source IN ('auto', 'manual', 'review')),
    marked_ms               INTEGER NOT NULL,
    last_seen_ms            INTEGER,
    -- Distance of the best match, distance gap to the runner-up, and the runner-up itself.
    score                   REAL,
    margin                  REAL,
    runner_up_student_id    INTEGER REFERENCES students (id) ON DELETE SET NULL,
    runner_up_score         REAL,
    model_id                TEXT,
    frame_ms                INTEGER,
    -- The face crop (PNG), only when the teacher opted in to keeping evidence crops.
    evidence_crop           BLOB,
    UNIQUE (session_id, student_id)
);
CREATE INDEX marks_by_student ON marks (student_id);

-- Faces the engine was not sure about, for the teacher to accept or reject.
CREATE TABLE review_queue (
    id                      INTEGER PRIMARY KEY,
    session_id              INTEGER NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    candidate_student_id    INTEGER REFERENCES students (id) ON DELETE CASCADE,
    score                   REAL,
    margin                  REAL,
    runner_up_student_id    INTEGER REFERENCES students (id) ON DELETE SET NULL,
    runner_up_score         REAL,
    model_id                TEXT,
    reason                  TEXT    NOT NULL,
    frame_ms                INTEGER NOT NULL,
    face_crop               BLOB,
    state                   TEXT    NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'accepted', 'rejected')),
    created_ms              INTEGER NOT NULL,
    resolved_ms             INTEGER
);
CREATE INDEX review_queue_pending ON review_queue (session_id, state);

-- Biometric consent: who gave it, when, for what; withdrawn_ms ends it.
CREATE TABLE consents (
    id            INTEGER PRIMARY KEY,
    student_id    INTEGER NOT NULL REFERENCES students (id) ON DELETE CASCADE,
    given_by      TEXT    NOT NULL CHECK (length(trim(given_by)) > 0),
    purpose       TEXT    NOT NULL,
    given_ms      INTEGER NOT NULL,
    withdrawn_ms  INTEGER
);
CREATE INDEX consents_by_student ON consents (student_id);

-- Every manual change to attendance or biometric data, kept even when the student is removed.
CREATE TABLE audit_log (
    id          INTEGER PRIMARY KEY,
    at_ms       INTEGER NOT NULL,
    actor       TEXT    NOT NULL,
    action      TEXT    NOT NULL,
    session_id  INTEGER,
    student_id  INTEGER,
    details     TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX audit_log_by_student ON audit_log (student_id);

-- Application settings that belong with the data (threshold defaults, retention, ...).
CREATE TABLE settings (
    key    TEXT PRIMARY KEY,
    value  TEXT NOT NULL
);
