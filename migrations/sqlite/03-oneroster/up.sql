-- rollcall schema, version 3: rosters from the school's information system (OneRoster bundles,
-- `rollcall roster import`). A class and a student imported from a bundle keep its sourcedId,
-- the key every later bundle (bulk or delta) is matched by; a class keeps its code, school and
-- term for exports back to the information system.
ALTER TABLE classes ADD COLUMN sourced_id TEXT CHECK (sourced_id IS NULL OR length(trim(sourced_id)) > 0);
ALTER TABLE classes ADD COLUMN class_code TEXT;
ALTER TABLE classes ADD COLUMN school TEXT;
ALTER TABLE classes ADD COLUMN term TEXT;
CREATE UNIQUE INDEX classes_by_sourced_id ON classes (sourced_id);

ALTER TABLE students ADD COLUMN sourced_id TEXT CHECK (sourced_id IS NULL OR length(trim(sourced_id)) > 0);
CREATE UNIQUE INDEX students_by_sourced_id ON students (sourced_id);

-- The bundle's user a teacher assignment came from (NULL when assigned by hand), so a delta
-- that ends the enrollment can find it.
ALTER TABLE class_teachers ADD COLUMN user_sourced_id TEXT;

-- Memberships that ended (a student who left a class): kept so the rolls of the sessions held
-- while they were a member still list them.
CREATE TABLE past_members (
    class_id    INTEGER NOT NULL REFERENCES classes (id) ON DELETE CASCADE,
    student_id  INTEGER NOT NULL REFERENCES students (id) ON DELETE CASCADE,
    joined_ms   INTEGER NOT NULL,
    left_ms     INTEGER NOT NULL CHECK (left_ms >= joined_ms),
    PRIMARY KEY (class_id, student_id, joined_ms)
);
CREATE INDEX past_members_by_student ON past_members (student_id);
