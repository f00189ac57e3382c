-- rollcall schema, version 2: who teaches which class. On a school's PostgreSQL server the
-- row-level security policies (`rollcall server init`) let a teacher's database role see only
-- the classes listed here for it; in a teacher's own file it only records the names.
CREATE TABLE class_teachers (
    class_id  INTEGER NOT NULL REFERENCES classes (id) ON DELETE CASCADE,
    -- The teacher's database role (PostgreSQL) or name.
    teacher   TEXT    NOT NULL CHECK (length(trim(teacher)) > 0),
    PRIMARY KEY (class_id, teacher)
);
CREATE INDEX class_teachers_by_teacher ON class_teachers (teacher);
