//! `rollcall session ...`, `rollcall mark` and `rollcall audit`.

use clap::{Args, Subcommand};

use super::{outln, table};
use crate::core::{SessionId, Status};
use crate::store::{SessionRow, Store};
use crate::workflow::local_time;

/// Session subcommands.
#[derive(Debug, Subcommand)]
pub enum SessionCommand {
    /// Start a session for a class now.
    Start {
        /// The class (name or id).
        #[arg(long)]
        class: String,
    },
    /// Stop a session (the class's open one by default).
    Stop {
        /// The class (name or id).
        #[arg(long, required_unless_present = "session")]
        class: Option<String>,
        /// The session id.
        #[arg(long)]
        session: Option<i64>,
    },
    /// List sessions.
    List {
        /// Only this class.
        #[arg(long)]
        class: Option<String>,
    },
    /// Show the roll of a session: every student and their status.
    Show {
        /// The session id (default: the class's open or latest session).
        #[arg(long)]
        session: Option<i64>,
        /// The class (name or id).
        #[arg(long, required_unless_present = "session")]
        class: Option<String>,
    },
}

/// Arguments of `rollcall mark`.
#[derive(Debug, Args)]
pub struct MarkArgs {
    /// The class (name or id); its open session, or latest one, is used.
    #[arg(long, required_unless_present = "session")]
    class: Option<String>,
    /// The session id.
    #[arg(long)]
    session: Option<i64>,
    /// The student (id, school number or name).
    #[arg(long)]
    student: String,
    /// present, late, absent or excused.
    #[arg(long, default_value = "present")]
    status: Status,
    /// A note for the audit log (e.g. "doctor's note").
    #[arg(long, default_value = "")]
    note: String,
}

/// Arguments of `rollcall audit`.
#[derive(Debug, Args)]
pub struct AuditArgs {
    /// How many entries, newest first.
    #[arg(long, default_value_t = 50)]
    limit: usize,
}

/// The session named by `--session`, else the class's open session, else its latest one.
pub fn pick_session(
    store: &Store,
    class: Option<&str>,
    session: Option<i64>,
) -> anyhow::Result<SessionRow> {
    if let Some(id) = session {
        return Ok(match class {
            Some(c) => store.session_in_class(SessionId(id), &store.find_class(c)?)?,
            None => store.session(SessionId(id))?,
        });
    }
    let Some(class) = class else {
        anyhow::bail!("name a class (--class) or a session (--session)");
    };
    let c = store.find_class(class)?;
    if let Some(open) = store.open_session(c.id)? {
        return Ok(open);
    }
    store
        .list_sessions(Some(c.id), None, None)?
        .into_iter()
        .next()
        .ok_or_else(|| {
            anyhow::anyhow!(
                "class {} has no sessions yet: start one with rollcall session start --class {}",
                c.name,
                c.name
            )
        })
}

/// Runs a session subcommand.
pub fn run(store: &Store, command: SessionCommand) -> anyhow::Result<()> {
    match command {
        SessionCommand::Start { class } => {
            let c = store.find_class(&class)?;
            let settings = crate::workflow::session_settings(store, &c)?;
            let id = store.start_session(c.id, settings.as_ref())?;
            outln!(
                "Started session #{id} for class {} at {}",
                c.name,
                local_time(store.now_ms())
            );
        }
        SessionCommand::Stop { class, session } => {
            let s = if let Some(id) = session {
                store.session(SessionId(id))?
            } else {
                let c = store.find_class(class.as_deref().unwrap_or_default())?;
                store
                    .open_session(c.id)?
                    .ok_or_else(|| anyhow::anyhow!("class {} has no open session", c.name))?
            };
            let s = store.stop_session(s.id)?;
            outln!(
                "Stopped session #{} of class {} ({} marked)",
                s.id,
                s.class_name,
                s.mark_count
            );
        }
        SessionCommand::List { class } => {
            let class = class.map(|c| store.find_class(&c)).transpose()?;
            let sessions = store.list_sessions(class.map(|c| c.id), None, None)?;
            if sessions.is_empty() {
                outln!("No sessions yet. Start one with: rollcall session start --class 7B");
                return Ok(());
            }
            let rows: Vec<Vec<String>> = sessions
                .iter()
                .map(|s| {
                    vec![
                        s.id.to_string(),
                        s.class_name.clone(),
                        local_time(s.started_ms),
                        s.ended_ms.map_or_else(|| "open".to_owned(), local_time),
                        s.mark_count.to_string(),
                        s.model_id
                            .as_ref()
                            .map(ToString::to_string)
                            .unwrap_or_default(),
                    ]
                })
                .collect();
            table::print(
                &["id", "class", "started", "ended", "marked", "encoder"],
                &rows,
            );
        }
        SessionCommand::Show { session, class } => {
            let s = pick_session(store, class.as_deref(), session)?;
            outln!(
                "Session #{} of class {}, {} – {}",
                s.id,
                s.class_name,
                local_time(s.started_ms),
                s.ended_ms.map_or_else(|| "open".to_owned(), local_time)
            );
            let rows: Vec<Vec<String>> = store
                .session_roll(s.id)?
                .iter()
                .map(|e| {
                    let m = e.mark.as_ref();
                    vec![
                        e.student.to_string(),
                        e.name.clone(),
                        e.status().to_string(),
                        m.map(|m| m.source.to_string()).unwrap_or_default(),
                        m.map(|m| local_time(m.frame_ms.unwrap_or(m.marked_ms)))
                            .unwrap_or_default(),
                        m.and_then(|m| m.score)
                            .map(|v| format!("{v:.3}"))
                            .unwrap_or_default(),
                        m.and_then(|m| m.margin)
                            .map(|v| format!("{v:.3}"))
                            .unwrap_or_default(),
                    ]
                })
                .collect();
            table::print(
                &[
                    "id", "name", "status", "source", "time", "distance", "margin",
                ],
                &rows,
            );
        }
    }
    Ok(())
}

/// Runs `rollcall mark`.
pub fn run_mark(store: &Store, args: &MarkArgs) -> anyhow::Result<()> {
    let s = pick_session(store, args.class.as_deref(), args.session)?;
    let student = store.find_student(&args.student, Some(s.class_id))?;
    store.set_mark(s.id, student.id, args.status, store.actor(), &args.note)?;
    outln!(
        "{} is {} in session #{} of class {}",
        student.display_name,
        args.status,
        s.id,
        s.class_name
    );
    Ok(())
}

/// Runs `rollcall audit`.
pub fn run_audit(store: &Store, args: &AuditArgs) -> anyhow::Result<()> {
    let rows: Vec<Vec<String>> = store
        .audit_entries(args.limit)?
        .iter()
        .map(|e| {
            vec![
                local_time(e.at_ms),
                e.actor.clone(),
                e.action.clone(),
                e.session.map(|s| s.to_string()).unwrap_or_default(),
                e.student.map(|s| s.to_string()).unwrap_or_default(),
                e.details.clone(),
            ]
        })
        .collect();
    if rows.is_empty() {
        outln!("The audit log is empty");
    } else {
        table::print(
            &["time", "actor", "action", "session", "student", "details"],
            &rows,
        );
    }
    Ok(())
}
