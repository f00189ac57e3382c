-- Who may see what on a school's rollcall server. `rollcall server init` applies this after the
-- numbered migrations, as the role that owns the tables (the school's IT person); running it
-- again changes nothing. Table owners bypass these policies; everyone else is limited by them.
--
-- rollcall_office:  manages the roster, photos and consent, and sees every class.
-- rollcall_teacher: sees only the classes listed for their own role in class_teachers, with
--                   those classes' students, photos, embeddings, consent, sessions and marks;
--                   takes attendance, reviews faces and corrects marks there, and may enroll a
--                   photo for a student who has consent on record. Teachers cannot add or remove
--                   students, classes or consent.
-- Each person logs in as their own role, which is a member of one of the two.

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'rollcall_office') THEN
        CREATE ROLE rollcall_office NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'rollcall_teacher') THEN
        CREATE ROLE rollcall_teacher NOLOGIN;
    END IF;
END
$$;

GRANT USAGE ON SCHEMA public TO rollcall_office, rollcall_teacher;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO rollcall_office, rollcall_teacher;
GRANT SELECT ON rollcall_schema, encoders, settings, class_teachers TO rollcall_office, rollcall_teacher;

GRANT SELECT, INSERT, UPDATE, DELETE ON
    classes, class_members, past_members, students, enrollments, embeddings, consents, sessions, marks,
    review_queue, class_teachers, encoders, settings
    TO rollcall_office;
GRANT SELECT, INSERT ON audit_log TO rollcall_office, rollcall_teacher;

GRANT SELECT, UPDATE ON classes TO rollcall_teacher;
GRANT SELECT ON class_members, past_members, students, consents TO rollcall_teacher;
GRANT SELECT, INSERT, UPDATE, DELETE ON
    enrollments, embeddings, sessions, marks, review_queue
    TO rollcall_teacher;

ALTER TABLE classes ENABLE ROW LEVEL SECURITY;
ALTER TABLE class_members ENABLE ROW LEVEL SECURITY;
ALTER TABLE past_members ENABLE ROW LEVEL SECURITY;
ALTER TABLE students ENABLE ROW LEVEL SECURITY;
ALTER TABLE enrollments ENABLE ROW LEVEL SECURITY;
ALTER TABLE embeddings ENABLE ROW LEVEL SECURITY;
ALTER TABLE consents ENABLE ROW LEVEL SECURITY;
ALTER TABLE sessions ENABLE ROW LEVEL SECURITY;
ALTER TABLE marks ENABLE ROW LEVEL SECURITY;
ALTER TABLE review_queue ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_log ENABLE ROW LEVEL SECURITY;

-- A class: the office sees every one, a teacher those listed for their role. Every other
-- policy leans on this one: a subquery on a table with row-level security sees only the rows
-- its policy lets the same role see.
DROP POLICY IF EXISTS rollcall_classes ON classes;
CREATE POLICY rollcall_classes ON classes
    USING (pg_has_role(current_user, 'rollcall_office', 'MEMBER')
           OR id IN (SELECT class_id FROM class_teachers WHERE teacher = current_user));

DROP POLICY IF EXISTS rollcall_class_members ON class_members;
CREATE POLICY rollcall_class_members ON class_members
    USING (class_id IN (SELECT id FROM classes));

DROP POLICY IF EXISTS rollcall_past_members ON past_members;
CREATE POLICY rollcall_past_members ON past_members
    USING (class_id IN (SELECT id FROM classes));

DROP POLICY IF EXISTS rollcall_students ON students;
CREATE POLICY rollcall_students ON students
    USING (pg_has_role(current_user, 'rollcall_office', 'MEMBER')
           OR id IN (SELECT student_id FROM class_members)
           OR id IN (SELECT student_id FROM past_members));

DROP POLICY IF EXISTS rollcall_enrollments ON enrollments;
CREATE POLICY rollcall_enrollments ON enrollments
    USING (student_id IN (SELECT id FROM students));

DROP POLICY IF EXISTS rollcall_embeddings ON embeddings;
CREATE POLICY rollcall_embeddings ON embeddings
    USING (student_id IN (SELECT id FROM students));

DROP POLICY IF EXISTS rollcall_consents ON consents;
CREATE POLICY rollcall_consents ON consents
    USING (student_id IN (SELECT id FROM students));

DROP POLICY IF EXISTS rollcall_sessions ON sessions;
CREATE POLICY rollcall_sessions ON sessions
    USING (class_id IN (SELECT id FROM classes));

DROP POLICY IF EXISTS rollcall_marks ON marks;
CREATE POLICY rollcall_marks ON marks
    USING (session_id IN (SELECT id FROM sessions) AND student_id IN (SELECT id FROM students));

DROP POLICY IF EXISTS rollcall_review_queue ON review_queue;
CREATE POLICY rollcall_review_queue ON review_queue
    USING (session_id IN (SELECT id FROM sessions));

-- The audit log: the office reads all of it, a teacher what concerns their classes; anyone
-- may add an entry about what they can see (or about nothing in particular).
DROP POLICY IF EXISTS rollcall_audit_log ON audit_log;
CREATE POLICY rollcall_audit_log ON audit_log
    USING (pg_has_role(current_user, 'rollcall_office', 'MEMBER')
           OR session_id IN (SELECT id FROM sessions)
           OR student_id IN (SELECT id FROM students))
    WITH CHECK ((session_id IS NULL OR session_id IN (SELECT id FROM sessions))
                AND (student_id IS NULL OR student_id IN (SELECT id FROM students)));
