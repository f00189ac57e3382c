//! Comparing a OneRoster bundle with the store, and importing it.
//!
//! The rules:
//! - A class is keyed by its `sourcedId`. The first time, a class of the same name that came
//!   from no bundle is taken over. Its name is the bundle's title, with the class code added
//!   where two sections share a title.
//! - A student is keyed by `sourcedId`; the first time, a student with the same school number
//!   (`identifier`) that came from no bundle is taken over. A school number that belongs to
//!   another imported student is a problem.
//! - A student enrollment makes a class member, a teacher enrollment records who teaches the
//!   class (the `username` is the teacher's database role on the school server). Aides,
//!   guardians and others are not recorded.
//! - `tobedeleted` on an enrollment ends the membership (the rolls of past sessions keep the
//!   student); on a class it ends all its memberships; on a student it removes the student:
//!   their photo and embeddings are deleted and their attendance history stays.
//! - When the enrollments file is bulk, it is the whole truth for the classes the bundle lists:
//!   imported students and teachers it no longer lists there leave those classes. Students
//!   added by hand (without a `sourcedId`) stay.

use std::collections::{BTreeSet, HashMap, HashSet};

use super::read::{Bundle, FileMode, RowStatus};
use super::{Problem, Problems};
use crate::store::db::{Db, params};
use crate::store::{Result, Store};

/// What importing a bundle changes (or changed), for the preview and the report.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct RosterPlan {
    /// New classes, by name.
    pub classes_added: Vec<String>,
    /// Classes taken over or changed: "name: what".
    pub classes_changed: Vec<String>,
    /// New students, by name.
    pub students_added: Vec<String>,
    /// Students taken over or changed: "name: what".
    pub students_changed: Vec<String>,
    /// Students removed (biometric data deleted, attendance history kept).
    pub students_removed: Vec<String>,
    /// Memberships added: (student, class).
    pub joined: Vec<(String, String)>,
    /// Memberships ended: (student, class).
    pub left: Vec<(String, String)>,
    /// Teacher assignments added: (teacher, class).
    pub teachers_added: Vec<(String, String)>,
    /// Teacher assignments ended: (teacher, class).
    pub teachers_removed: Vec<(String, String)>,
    /// What the bundle holds that rollcall does not record.
    pub notes: Vec<String>,
    #[serde(skip)]
    actions: Vec<Action>,
}

impl RosterPlan {
    /// Whether the import changes nothing (the bundle was imported before).
    #[must_use]
    pub fn is_unchanged(&self) -> bool {
        self.actions.is_empty()
    }

    /// A line per kind of change, with counts ("3 new classes", ...).
    #[must_use]
    pub fn summary(&self) -> Vec<String> {
        let mut lines = Vec::new();
        let mut add = |n: usize, one: &str, many: &str| {
            if n > 0 {
                lines.push(format!("{n} {}", if n == 1 { one } else { many }));
            }
        };
        add(self.classes_added.len(), "new class", "new classes");
        add(
            self.classes_changed.len(),
            "class changed",
            "classes changed",
        );
        add(self.students_added.len(), "new student", "new students");
        add(
            self.students_changed.len(),
            "student changed",
            "students changed",
        );
        add(
            self.students_removed.len(),
            "student removed (photo deleted, attendance kept)",
            "students removed (photos deleted, attendance kept)",
        );
        add(
            self.joined.len(),
            "student joins a class",
            "students join classes",
        );
        add(
            self.left.len(),
            "student leaves a class",
            "students leave classes",
        );
        add(
            self.teachers_added.len(),
            "teacher assigned to a class",
            "teachers assigned to classes",
        );
        add(
            self.teachers_removed.len(),
            "teacher no longer assigned to a class",
            "teachers no longer assigned to classes",
        );
        if lines.is_empty() {
            lines.push("nothing to change: the roster is up to date".to_owned());
        }
        lines
    }
}

/// A class or student, already in the store or added earlier in the same import.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Ref {
    Id(i64),
    New(usize),
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct ClassFields {
    name: String,
    sourced_id: String,
    class_code: Option<String>,
    school: Option<String>,
    term: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct StudentFields {
    name: String,
    external_id: Option<String>,
    sourced_id: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Action {
    AddClass(ClassFields),
    UpdateClass(i64, ClassFields),
    AddStudent(StudentFields),
    UpdateStudent(i64, StudentFields),
    RemoveStudent(i64, String),
    Leave {
        class: i64,
        student: i64,
    },
    Join {
        class: Ref,
        student: Ref,
    },
    RemoveTeacher {
        class: i64,
        teacher: String,
    },
    AddTeacher {
        class: Ref,
        teacher: String,
        user: String,
    },
}

struct StoredClass {
    id: i64,
    fields: ClassFields,
}

struct StoredStudent {
    id: i64,
    name: String,
    external_id: Option<String>,
    sourced_id: Option<String>,
    removed: bool,
}

/// What the store holds that an import is compared with.
struct Stored {
    classes: Vec<StoredClass>,
    students: Vec<StoredStudent>,
    /// (class, student) → the student's `sourcedId`, if any.
    members: HashMap<(i64, i64), Option<String>>,
    /// (class, teacher) → the bundle user it came from, if any.
    teachers: HashMap<(i64, String), Option<String>>,
}

impl Stored {
    fn load(db: &Db) -> Result<Self> {
        let classes = db.query_map(
            "SELECT id, name, sourced_id, class_code, school, term FROM classes",
            [],
            |r| {
                Ok(StoredClass {
                    id: r.get(0)?,
                    fields: ClassFields {
                        name: r.get(1)?,
                        sourced_id: r.get::<_, Option<String>>(2)?.unwrap_or_default(),
                        class_code: r.get(3)?,
                        school: r.get(4)?,
                        term: r.get(5)?,
                    },
                })
            },
        )?;
        let students = db.query_map(
            "SELECT id, display_name, external_id, sourced_id, removed_ms IS NOT NULL FROM students",
            [],
            |r| {
                Ok(StoredStudent {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    external_id: r.get(2)?,
                    sourced_id: r.get(3)?,
                    removed: r.get(4)?,
                })
            },
        )?;
        let members = db
            .query_map(
                "SELECT m.class_id, m.student_id, s.sourced_id FROM class_members m
                   JOIN students s ON s.id = m.student_id",
                [],
                |r| Ok(((r.get(0)?, r.get(1)?), r.get(2)?)),
            )?
            .into_iter()
            .collect();
        let teachers = db
            .query_map(
                "SELECT class_id, teacher, user_sourced_id FROM class_teachers",
                [],
                |r| Ok(((r.get(0)?, r.get(1)?), r.get(2)?)),
            )?
            .into_iter()
            .collect();
        Ok(Self {
            classes,
            students,
            members,
            teachers,
        })
    }
}

/// Builds the plan; every problem at once, or the changes.
#[allow(clippy::too_many_lines)] // one pass per file of the bundle, in order
fn plan(stored: &Stored, bundle: &Bundle) -> std::result::Result<RosterPlan, Problems> {
    let mut problems: Vec<Problem> = Vec::new();
    let mut out = RosterPlan {
        notes: bundle.notes.clone(),
        ..RosterPlan::default()
    };

    // Names for reading references back into words.
    let mut class_names: HashMap<Ref, String> = stored
        .classes
        .iter()
        .map(|c| (Ref::Id(c.id), c.fields.name.clone()))
        .collect();
    let mut student_names: HashMap<Ref, String> = stored
        .students
        .iter()
        .map(|s| (Ref::Id(s.id), s.name.clone()))
        .collect();

    // Classes.
    let schools: HashMap<&str, &str> = bundle
        .orgs
        .iter()
        .map(|o| (o.sourced_id.as_str(), o.name.as_str()))
        .collect();
    let terms: HashMap<&str, &str> = bundle
        .terms
        .iter()
        .map(|t| (t.sourced_id.as_str(), t.title.as_str()))
        .collect();
    let mut title_count: HashMap<String, usize> = HashMap::new();
    for c in bundle
        .classes
        .iter()
        .filter(|c| c.status == RowStatus::Active)
    {
        *title_count.entry(c.title.to_lowercase()).or_default() += 1;
    }
    // Lower-case name → the class holding it (after this plan).
    let mut taken: HashMap<String, Ref> = stored
        .classes
        .iter()
        .map(|c| (c.fields.name.to_lowercase(), Ref::Id(c.id)))
        .collect();
    let by_sourced_id: HashMap<&str, &StoredClass> = stored
        .classes
        .iter()
        .filter(|c| !c.fields.sourced_id.is_empty())
        .map(|c| (c.fields.sourced_id.as_str(), c))
        .collect();
    // The bundle's classes by sourcedId → where they are (active ones only).
    let mut classes: HashMap<&str, Ref> = HashMap::new();
    let mut deleted_classes: Vec<i64> = Vec::new();
    let mut new_classes = 0;
    for c in &bundle.classes {
        let stored_class = by_sourced_id.get(c.sourced_id.as_str()).copied();
        if c.status == RowStatus::ToBeDeleted {
            if let Some(s) = stored_class {
                deleted_classes.push(s.id);
            }
            continue;
        }
        if bundle.mode("orgs") != FileMode::Absent && !schools.contains_key(c.school.as_str()) {
            problems.push(c.at.problem(format!(
                "class {} is at school {:?}, which is not in orgs.csv",
                c.sourced_id, c.school
            )));
        }
        let shared_title = title_count.get(&c.title.to_lowercase()).copied() > Some(1);
        let suffix = c.class_code.as_deref().unwrap_or(&c.sourced_id);
        let preferred = if shared_title {
            format!("{} ({suffix})", c.title)
        } else {
            c.title.clone()
        };
        let keep = |old: Option<&String>, new: Option<&str>| {
            new.map(str::to_owned).or_else(|| old.cloned())
        };
        let old = stored_class.map(|s| &s.fields);
        let mut fields = ClassFields {
            name: preferred.clone(),
            sourced_id: c.sourced_id.clone(),
            class_code: c.class_code.clone(),
            school: keep(
                old.and_then(|o| o.school.as_ref()),
                schools.get(c.school.as_str()).copied(),
            ),
            term: keep(
                old.and_then(|o| o.term.as_ref()),
                c.terms.iter().find_map(|t| terms.get(t.as_str()).copied()),
            ),
        };
        // A class that came from no bundle, with this class's name, is taken over.
        let adopt = stored_class.is_none().then(|| {
            stored.classes.iter().find(|s| {
                s.fields.sourced_id.is_empty()
                    && s.fields.name.to_lowercase() == preferred.to_lowercase()
            })
        });
        let existing = stored_class.or(adopt.flatten());
        let this = existing.map_or(Ref::New(new_classes), |s| Ref::Id(s.id));
        // The name: the title, else with the code, else with the sourcedId.
        let free = |name: &str, taken: &HashMap<String, Ref>| {
            taken.get(&name.to_lowercase()).is_none_or(|r| *r == this)
        };
        for candidate in [
            preferred.clone(),
            format!("{} ({suffix})", c.title),
            format!("{} ({})", c.title, c.sourced_id),
        ] {
            if free(&candidate, &taken) {
                fields.name = candidate;
                break;
            }
        }
        if !free(&fields.name, &taken) {
            problems.push(c.at.problem(format!(
                "class {}: the names {:?} and {:?} are both taken by other classes",
                c.sourced_id, preferred, fields.name
            )));
            classes.insert(&c.sourced_id, BROKEN);
            continue;
        }
        if let Some(s) = existing {
            taken.retain(|_, r| *r != this);
            if s.fields != fields {
                out.classes_changed.push(format!(
                    "{}: {}",
                    fields.name,
                    class_change(&s.fields, &fields)
                ));
                out.actions.push(Action::UpdateClass(s.id, fields.clone()));
            }
        } else {
            out.classes_added.push(fields.name.clone());
            out.actions.push(Action::AddClass(fields.clone()));
            new_classes += 1;
        }
        taken.insert(fields.name.to_lowercase(), this);
        class_names.insert(this, fields.name.clone());
        classes.insert(&c.sourced_id, this);
    }

    // Who is a student and who a teacher.
    let mut student_users: HashSet<&str> = HashSet::new();
    let mut teacher_users: HashSet<&str> = HashSet::new();
    for u in &bundle.users {
        match u.role.as_deref() {
            Some("student") => {
                student_users.insert(&u.sourced_id);
            }
            Some("teacher") => {
                teacher_users.insert(&u.sourced_id);
            }
            _ => {}
        }
    }
    for e in &bundle.enrollments {
        match e.role.as_str() {
            "student" => {
                student_users.insert(&e.user);
            }
            "teacher" => {
                teacher_users.insert(&e.user);
            }
            _ => {}
        }
    }
    let stored_by_sourced_id: HashMap<&str, &StoredStudent> = stored
        .students
        .iter()
        .filter_map(|s| s.sourced_id.as_deref().map(|k| (k, s)))
        .collect();
    for s in stored_by_sourced_id.keys() {
        student_users.insert(s);
    }

    // Students.
    let mut students: HashMap<&str, Ref> = stored_by_sourced_id
        .iter()
        .filter(|(_, s)| !s.removed)
        .map(|(k, s)| (*k, Ref::Id(s.id)))
        .collect();
    let mut numbers: HashMap<String, (Ref, u64)> = HashMap::new();
    let mut new_students = 0;
    let mut teacher_names: HashMap<&str, String> = HashMap::new();
    let mut ignored_users = 0;
    for u in &bundle.users {
        if !student_users.contains(u.sourced_id.as_str()) {
            if teacher_users.contains(u.sourced_id.as_str()) {
                let name = if u.username.is_empty() {
                    &u.sourced_id
                } else {
                    &u.username
                };
                teacher_names.insert(&u.sourced_id, name.clone());
            } else {
                ignored_users += 1;
            }
            continue;
        }
        let stored_student = stored_by_sourced_id.get(u.sourced_id.as_str()).copied();
        if u.status == RowStatus::ToBeDeleted {
            if let Some(s) = stored_student.filter(|s| !s.removed) {
                out.students_removed.push(s.name.clone());
                out.actions
                    .push(Action::RemoveStudent(s.id, s.name.clone()));
                students.remove(u.sourced_id.as_str());
            }
            continue;
        }
        if stored_student.is_some_and(|s| s.removed) {
            out.notes.push(format!(
                "{} ({}) was removed from rollcall before and stays removed",
                u.display_name(),
                u.sourced_id
            ));
            continue;
        }
        let holder = u.identifier.as_deref().and_then(|n| {
            stored
                .students
                .iter()
                .find(|s| s.external_id.as_deref() == Some(n))
        });
        let existing = match (stored_student, holder) {
            (Some(s), _) => Some(s),
            (None, Some(h)) if h.sourced_id.is_none() && !h.removed => Some(h),
            _ => None,
        };
        if let Some(h) = holder
            && existing.is_none_or(|e| e.id != h.id)
        {
            problems.push(u.at.problem(format!(
                "the school number {:?} of {} belongs to {} in rollcall already",
                h.external_id.as_deref().unwrap_or(""),
                u.display_name(),
                h.name
            )));
            students.insert(&u.sourced_id, BROKEN);
            continue;
        }
        let this = existing.map_or(Ref::New(new_students), |s| Ref::Id(s.id));
        if let Some(n) = &u.identifier {
            if let Some((_, line)) = numbers.get(n) {
                problems.push(
                    u.at.problem(format!("the school number {n:?} is on line {line} already")),
                );
                students.insert(&u.sourced_id, BROKEN);
                continue;
            }
            numbers.insert(n.clone(), (this, u.at.line));
        }
        let fields = StudentFields {
            name: u.display_name(),
            external_id: u.identifier.clone(),
            sourced_id: u.sourced_id.clone(),
        };
        if let Some(s) = existing {
            let old = StudentFields {
                name: s.name.clone(),
                external_id: s.external_id.clone(),
                sourced_id: s.sourced_id.clone().unwrap_or_default(),
            };
            if old != fields {
                out.students_changed.push(format!(
                    "{}: {}",
                    fields.name,
                    student_change(&old, &fields)
                ));
                out.actions
                    .push(Action::UpdateStudent(s.id, fields.clone()));
            }
        } else {
            out.students_added.push(fields.name.clone());
            out.actions.push(Action::AddStudent(fields.clone()));
            new_students += 1;
        }
        student_names.insert(this, fields.name);
        students.insert(&u.sourced_id, this);
    }
    if bundle.mode("users") == FileMode::Bulk {
        let listed: HashSet<&str> = bundle.users.iter().map(|u| u.sourced_id.as_str()).collect();
        let missing = stored_by_sourced_id
            .iter()
            .filter(|(k, s)| !s.removed && !listed.contains(*k))
            .count();
        if missing > 0 {
            out.notes.push(format!(
                "{missing} student(s) imported before are not in this bulk users.csv; they stay \
                 (remove a student who left with `rollcall student remove`)"
            ));
        }
    }
    if ignored_users > 0 {
        out.notes.push(format!(
            "{ignored_users} user(s) who are neither a student nor a teacher of a class (parents, \
             aides, administrators) are not recorded"
        ));
    }
    // A delta's teacher enrollment may name a teacher from an earlier bundle.
    for ((_, teacher), user) in &stored.teachers {
        if let Some(user) = user {
            teacher_names.entry(user).or_insert_with(|| teacher.clone());
        }
    }

    // Memberships and teachers.
    let mut joins: BTreeSet<(Ref, Ref)> = BTreeSet::new();
    let mut leaves: BTreeSet<(i64, i64)> = BTreeSet::new();
    let mut teach: BTreeSet<(Ref, String, String)> = BTreeSet::new();
    let mut unteach: BTreeSet<(i64, String)> = BTreeSet::new();
    let mut ignored_roles = 0;
    let class_ref = |key: &str| {
        classes
            .get(key)
            .copied()
            .or_else(|| by_sourced_id.get(key).map(|c| Ref::Id(c.id)))
    };
    for e in &bundle.enrollments {
        // Ending a membership that is not there (any more) is nothing to do.
        let ending = e.status == RowStatus::ToBeDeleted;
        let Some(class) = class_ref(&e.class) else {
            if ending {
                continue;
            }
            problems.push(e.at.problem(format!(
                "enrollment {} is in class {:?}, which is neither in classes.csv nor imported before",
                e.sourced_id, e.class
            )));
            continue;
        };
        match e.role.as_str() {
            "student" => {
                let known = students.get(e.user.as_str()).copied();
                let removed = stored_by_sourced_id.contains_key(e.user.as_str())
                    || bundle
                        .users
                        .iter()
                        .any(|u| u.sourced_id == e.user && u.status == RowStatus::ToBeDeleted);
                let Some(student) = known else {
                    if !removed && !ending {
                        problems.push(e.at.problem(format!(
                            "enrollment {} is for user {:?}, who is neither in users.csv nor imported before",
                            e.sourced_id, e.user
                        )));
                    }
                    continue;
                };
                let member = match (class, student) {
                    (Ref::Id(c), Ref::Id(s)) => stored.members.contains_key(&(c, s)),
                    _ => false,
                };
                match e.status {
                    RowStatus::Active if !member && !deleted_classes.contains(&id_of(class)) => {
                        joins.insert((class, student));
                    }
                    RowStatus::ToBeDeleted if member => {
                        leaves.insert((id_of(class), id_of(student)));
                    }
                    _ => {}
                }
            }
            "teacher" => {
                let Some(teacher) = teacher_names.get(e.user.as_str()).cloned() else {
                    if ending {
                        continue;
                    }
                    problems.push(e.at.problem(format!(
                        "enrollment {} is for teacher {:?}, who is neither in users.csv nor imported before",
                        e.sourced_id, e.user
                    )));
                    continue;
                };
                let current = match class {
                    Ref::Id(c) => stored.teachers.get(&(c, teacher.clone())),
                    Ref::New(_) => None,
                };
                match e.status {
                    RowStatus::Active if current != Some(&Some(e.user.clone())) => {
                        teach.insert((class, teacher, e.user.clone()));
                    }
                    RowStatus::ToBeDeleted if current.is_some() => {
                        unteach.insert((id_of(class), teacher));
                    }
                    _ => {}
                }
            }
            _ => ignored_roles += 1,
        }
    }
    if ignored_roles > 0 {
        out.notes.push(format!(
            "{ignored_roles} enrollment(s) of aides, guardians or others are not recorded"
        ));
    }
    // A bulk enrollments file is the whole truth for the classes the bundle lists (a removed
    // student keeps their memberships, as removal always does).
    let removed_before: HashSet<i64> = stored
        .students
        .iter()
        .filter(|s| s.removed)
        .map(|s| s.id)
        .collect();
    if bundle.mode("enrollments") == FileMode::Bulk {
        let listed_students: HashSet<(Ref, Ref)> = bundle
            .enrollments
            .iter()
            .filter(|e| e.status == RowStatus::Active && e.role == "student")
            .filter_map(|e| {
                Some((
                    class_ref(&e.class)?,
                    students.get(e.user.as_str()).copied()?,
                ))
            })
            .collect();
        let listed_teachers: HashSet<(Ref, &str)> = bundle
            .enrollments
            .iter()
            .filter(|e| e.status == RowStatus::Active && e.role == "teacher")
            .filter_map(|e| Some((class_ref(&e.class)?, e.user.as_str())))
            .collect();
        for class in classes.values().filter_map(|r| match r {
            Ref::Id(id) => Some(*id),
            Ref::New(_) => None,
        }) {
            for ((c, s), sourced) in &stored.members {
                if *c == class
                    && sourced.is_some()
                    && !removed_before.contains(s)
                    && !listed_students.contains(&(Ref::Id(class), Ref::Id(*s)))
                {
                    leaves.insert((class, *s));
                }
            }
            for ((c, teacher), user) in &stored.teachers {
                if *c == class
                    && let Some(user) = user
                    && !listed_teachers.contains(&(Ref::Id(class), user.as_str()))
                {
                    unteach.insert((class, teacher.clone()));
                }
            }
        }
    }
    for class in &deleted_classes {
        for (c, s) in stored.members.keys() {
            if c == class {
                leaves.insert((*c, *s));
            }
        }
        for ((c, teacher), user) in &stored.teachers {
            if c == class && user.is_some() {
                unteach.insert((*c, teacher.clone()));
            }
        }
    }
    // A student removed by this bundle keeps their memberships (as removal always does).
    let removed: HashSet<i64> = out
        .actions
        .iter()
        .filter_map(|a| match a {
            Action::RemoveStudent(id, _) => Some(*id),
            _ => None,
        })
        .collect();
    leaves.retain(|(_, s)| !removed.contains(s));

    let name = |names: &HashMap<Ref, String>, r: Ref| names.get(&r).cloned().unwrap_or_default();
    for (class, student) in leaves {
        out.left.push((
            name(&student_names, Ref::Id(student)),
            name(&class_names, Ref::Id(class)),
        ));
        out.actions.push(Action::Leave { class, student });
    }
    for (class, student) in joins {
        out.joined
            .push((name(&student_names, student), name(&class_names, class)));
        out.actions.push(Action::Join { class, student });
    }
    for (class, teacher) in unteach {
        out.teachers_removed
            .push((teacher.clone(), name(&class_names, Ref::Id(class))));
        out.actions.push(Action::RemoveTeacher { class, teacher });
    }
    for (class, teacher, user) in teach {
        out.teachers_added
            .push((teacher.clone(), name(&class_names, class)));
        out.actions.push(Action::AddTeacher {
            class,
            teacher,
            user,
        });
    }
    for list in [&mut out.joined, &mut out.left] {
        list.sort();
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(Problems(problems))
    }
}

/// Stands for a class or student with a problem of its own, so that its enrollments are not
/// reported as orphans as well (a plan with problems is never carried out).
const BROKEN: Ref = Ref::Id(-1);

fn id_of(r: Ref) -> i64 {
    match r {
        Ref::Id(id) => id,
        Ref::New(_) => -1,
    }
}

fn class_change(old: &ClassFields, new: &ClassFields) -> String {
    let mut what = Vec::new();
    if old.sourced_id.is_empty() {
        what.push(format!("linked to sourcedId {}", new.sourced_id));
    }
    if old.name != new.name {
        what.push(format!("renamed from {:?}", old.name));
    }
    for (label, a, b) in [
        ("code", &old.class_code, &new.class_code),
        ("school", &old.school, &new.school),
        ("term", &old.term, &new.term),
    ] {
        if a != b {
            what.push(format!("{label} {}", b.as_deref().unwrap_or("none")));
        }
    }
    what.join(", ")
}

fn student_change(old: &StudentFields, new: &StudentFields) -> String {
    let mut what = Vec::new();
    if old.sourced_id.is_empty() {
        what.push(format!("linked to sourcedId {}", new.sourced_id));
    }
    if old.name != new.name {
        what.push(format!("renamed from {:?}", old.name));
    }
    if old.external_id != new.external_id {
        what.push(format!(
            "school number {}",
            new.external_id.as_deref().unwrap_or("none")
        ));
    }
    what.join(", ")
}

fn execute(tx: &Db, plan: &RosterPlan, now: i64) -> Result<()> {
    let mut new_classes: Vec<i64> = Vec::new();
    let mut new_students: Vec<i64> = Vec::new();
    let resolve = |r: Ref, new: &[i64]| match r {
        Ref::Id(id) => id,
        Ref::New(i) => new[i],
    };
    for action in &plan.actions {
        match action {
            Action::AddClass(f) => new_classes.push(tx.query_row(
                "INSERT INTO classes (name, created_ms, sourced_id, class_code, school, term)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING id",
                params![f.name, now, f.sourced_id, f.class_code, f.school, f.term],
                |r| r.get(0),
            )?),
            Action::UpdateClass(id, f) => {
                tx.execute(
                    "UPDATE classes SET name = ?2, sourced_id = ?3, class_code = ?4, school = ?5,
                       term = ?6 WHERE id = ?1",
                    params![id, f.name, f.sourced_id, f.class_code, f.school, f.term],
                )?;
            }
            Action::AddStudent(f) => new_students.push(tx.query_row(
                "INSERT INTO students (display_name, external_id, created_ms, sourced_id)
                 VALUES (?1, ?2, ?3, ?4) RETURNING id",
                params![f.name, f.external_id, now, f.sourced_id],
                |r| r.get(0),
            )?),
            Action::UpdateStudent(id, f) => {
                tx.execute(
                    "UPDATE students SET display_name = ?2, external_id = ?3, sourced_id = ?4
                     WHERE id = ?1",
                    params![id, f.name, f.external_id, f.sourced_id],
                )?;
            }
            Action::RemoveStudent(id, name) => crate::store::students::remove_student(
                tx,
                crate::core::StudentId(*id),
                name,
                now,
                "roster import",
            )?,
            Action::Leave { class, student } => {
                tx.execute(
                    "INSERT INTO past_members (class_id, student_id, joined_ms, left_ms)
                     SELECT class_id, student_id, joined_ms, CASE WHEN joined_ms > ?3 THEN joined_ms ELSE ?3 END
                       FROM class_members WHERE class_id = ?1 AND student_id = ?2
                     ON CONFLICT DO NOTHING",
                    params![class, student, now],
                )?;
                tx.execute(
                    "DELETE FROM class_members WHERE class_id = ?1 AND student_id = ?2",
                    params![class, student],
                )?;
            }
            Action::Join { class, student } => {
                tx.execute(
                    "INSERT INTO class_members (class_id, student_id, joined_ms) VALUES (?1, ?2, ?3)
                     ON CONFLICT DO NOTHING",
                    params![
                        resolve(*class, &new_classes),
                        resolve(*student, &new_students),
                        now
                    ],
                )?;
            }
            Action::RemoveTeacher { class, teacher } => {
                tx.execute(
                    "DELETE FROM class_teachers WHERE class_id = ?1 AND teacher = ?2",
                    params![class, teacher],
                )?;
            }
            Action::AddTeacher {
                class,
                teacher,
                user,
            } => {
                tx.execute(
                    "INSERT INTO class_teachers (class_id, teacher, user_sourced_id) VALUES (?1, ?2, ?3)
                     ON CONFLICT (class_id, teacher) DO UPDATE SET user_sourced_id = excluded.user_sourced_id",
                    params![resolve(*class, &new_classes), teacher, user],
                )?;
            }
        }
    }
    tx.execute(
        "INSERT INTO audit_log (at_ms, actor, action, details) VALUES (?1, 'roster import', 'roster_imported', ?2)",
        params![now, plan.summary().join("; ")],
    )?;
    Ok(())
}

impl Store {
    /// What importing `bundle` would change; writes nothing (the preview).
    pub fn plan_roster(&self, bundle: &Bundle) -> Result<RosterPlan> {
        Ok(plan(&Stored::load(self.db())?, bundle)?)
    }

    /// Imports `bundle` in one transaction and says what changed. A bundle with problems
    /// changes nothing; the same bundle again changes nothing either.
    pub fn import_roster(&self, bundle: &Bundle) -> Result<RosterPlan> {
        let now = self.now_ms();
        self.in_transaction(|tx| {
            let plan = plan(&Stored::load(tx)?, bundle)?;
            if !plan.is_unchanged() {
                execute(tx, &plan, now)?;
            }
            Ok(plan)
        })
    }
}
