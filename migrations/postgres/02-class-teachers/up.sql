-- rollcall schema for a school's PostgreSQL server, version 2: who teaches which class (the
-- twin of migrations/sqlite/02-class-teachers). The row-level security policies that
-- `rollcall server init` sets up let a teacher's database role see only the classes listed
-- here for it.
CREATE TABLE class_teachers (
    class_id  BIGINT NOT NULL REFERENCES classes (id) ON DELETE CASCADE,
    -- The teacher's database role.
    teacher   TEXT COLLATE "C" NOT NULL CHECK (length(trim(teacher)) > 0),
    PRIMARY KEY (class_id, teacher)
);
CREATE INDEX class_teachers_by_teacher ON class_teachers (teacher);
