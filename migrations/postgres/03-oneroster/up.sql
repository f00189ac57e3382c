-- rollcall schema for a school's PostgreSQL server, version 3: rosters from the school's
-- information system (the twin of migrations/sqlite/03-oneroster). A class and a student
-- imported from a OneRoster bundle keep its sourcedId, the key later bundles are matched by.
ALTER TABLE classes ADD COLUMN sourced_id TEXT COLLATE "C" CHECK (sourced_id IS NULL OR length(trim(sourced_id)) > 0);
ALTER TABLE classes ADD COLUMN class_code TEXT;
ALTER TABLE classes ADD COLUMN school TEXT;
ALTER TABLE classes ADD COLUMN term TEXT;
CREATE UNIQUE INDEX classes_by_sourced_id ON classes (sourced_id);

ALTER TABLE students ADD COLUMN sourced_id TEXT COLLATE "C" CHECK (sourced_id IS NULL OR length(trim(sourced_id)) > 0);
CREATE UNIQUE INDEX students_by_sourced_id ON students (sourced_id);

-- The bundle's user a teacher assignment came from (NULL when assigned by hand).
ALTER TABLE class_teachers ADD COLUMN user_sourced_id TEXT COLLATE "C";

-- Memberships that ended, kept so the rolls of the sessions held while they were a member
-- still list them.
CREATE TABLE past_members (
    class_id    BIGINT NOT NULL REFERENCES classes (id) ON DELETE CASCADE,
    student_id  BIGINT NOT NULL REFERENCES students (id) ON DELETE CASCADE,
    joined_ms   BIGINT NOT NULL,
    left_ms     BIGINT NOT NULL CHECK (left_ms >= joined_ms),
    PRIMARY KEY (class_id, student_id, joined_ms)
);
CREATE INDEX past_members_by_student ON past_members (student_id);
