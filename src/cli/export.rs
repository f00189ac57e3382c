//! `rollcall export`

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::outln;
use crate::core::SessionId;
use crate::store::Store;
use crate::store::export::{ExportFilter, ExportFormat, ExportOptions};

/// CSV layouts.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum FormatArg {
    /// One row per session and student.
    Long,
    /// One row per student, one column per session.
    Matrix,
    /// For the school's information system: one row per student per finished session, with
    /// school number, sourcedIds, class code and the attendance codes of `rollcall settings`.
    Sis,
}

/// Arguments of `rollcall export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Only this class (name or id).
    #[arg(long)]
    class: Option<String>,
    /// Only this session (id).
    #[arg(long)]
    session: Option<i64>,
    /// Only sessions on or after this date (YYYY-MM-DD).
    #[arg(long)]
    from: Option<String>,
    /// Only sessions on or before this date (YYYY-MM-DD).
    #[arg(long)]
    to: Option<String>,
    /// Layout.
    #[arg(long, value_enum, default_value = "long")]
    format: FormatArg,
    /// Start the file with a UTF-8 byte-order mark (for Excel).
    #[arg(long)]
    bom: bool,
    /// Output file (default: standard output).
    #[arg(long, short)]
    out: Option<PathBuf>,
}

/// Runs `rollcall export`.
pub fn run(store: &Store, args: &ExportArgs) -> anyhow::Result<()> {
    let filter = ExportFilter {
        class: args
            .class
            .as_deref()
            .map(|c| store.find_class(c).map(|c| c.id))
            .transpose()?,
        session: args.session.map(SessionId),
        from_ms: args
            .from
            .as_deref()
            .map(|d| super::parse_local_date(d, false))
            .transpose()?,
        to_ms: args
            .to
            .as_deref()
            .map(|d| super::parse_local_date(d, true))
            .transpose()?,
    };
    let format = match args.format {
        FormatArg::Long => ExportFormat::Long,
        FormatArg::Matrix => ExportFormat::Matrix,
        FormatArg::Sis => ExportFormat::Sis,
    };
    let options = ExportOptions {
        format,
        bom: args.bom,
        filter,
    };
    if let Some(path) = &args.out {
        let summary = store.export_csv_file(&options, &chrono::Local, path)?;
        outln!(
            "Wrote {} rows ({} sessions, {} students) to {}",
            summary.rows,
            summary.sessions,
            summary.students,
            path.display()
        );
        note_open(summary.open_left_out);
    } else {
        let stdout = std::io::stdout();
        let summary = store.export_csv(&options, &chrono::Local, stdout.lock())?;
        note_open(summary.open_left_out);
    }
    Ok(())
}

/// Says on standard error that open sessions were left out (their roll is not final).
fn note_open(open: usize) {
    if open > 0 {
        log::warn!("left out {open} session(s) still open: stop them to export their roll");
        #[allow(clippy::print_stderr)] // the export itself may be on standard output
        {
            eprintln!("Left out {open} session(s) still open: stop them to export their roll.");
        }
    }
}
