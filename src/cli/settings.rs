//! `rollcall settings ...`: the settings the window's Settings screen edits.

use clap::Subcommand;

use super::outln;
use crate::store::Store;

/// Settings subcommands.
#[derive(Debug, Subcommand)]
pub enum SettingsCommand {
    /// Show every setting and its value.
    Show,
    /// Change one setting (see `settings show` for the names).
    Set {
        /// The setting, for example `sis-code-late`.
        name: String,
        /// Its new value (`none` clears an optional one).
        value: String,
    },
}

/// The settings by name, as `settings show` lists them.
fn pairs(s: &crate::store::Settings) -> Vec<(&'static str, String)> {
    let opt = |v: Option<String>| v.unwrap_or_else(|| "none".to_owned());
    vec![
        ("frames-to-confirm", s.frames_to_confirm.to_string()),
        ("window-frames", s.window_frames.to_string()),
        ("min-margin", opt(s.min_margin.map(|m| m.to_string()))),
        ("keep-evidence-crops", s.keep_evidence_crops.to_string()),
        (
            "retention-days",
            opt(s.retention_days.map(|d| d.to_string())),
        ),
        ("sis-code-present", s.sis_codes.present.clone()),
        ("sis-code-late", s.sis_codes.late.clone()),
        ("sis-code-absent", s.sis_codes.absent.clone()),
        ("sis-code-excused", s.sis_codes.excused.clone()),
    ]
}

/// Runs a settings subcommand.
pub fn run(store: &Store, command: &SettingsCommand) -> anyhow::Result<()> {
    let mut s = store.settings()?;
    match command {
        SettingsCommand::Show => {
            for (name, value) in pairs(&s) {
                outln!("{name:<20} {value}");
            }
        }
        SettingsCommand::Set { name, value } => {
            let v = value.trim();
            let none = v.eq_ignore_ascii_case("none");
            let number = |what: &str| -> anyhow::Result<u32> {
                v.parse()
                    .map_err(|_| anyhow::anyhow!("{what} takes a whole number, not {v:?}"))
            };
            match name.as_str() {
                "frames-to-confirm" => s.frames_to_confirm = number(name)?,
                "window-frames" => s.window_frames = number(name)?,
                "min-margin" if none => s.min_margin = None,
                "min-margin" => {
                    s.min_margin =
                        Some(v.parse().map_err(|_| {
                            anyhow::anyhow!("min-margin takes a number, not {v:?}")
                        })?);
                }
                "keep-evidence-crops" => {
                    s.keep_evidence_crops = match v {
                        "true" | "yes" | "on" => true,
                        "false" | "no" | "off" => false,
                        _ => anyhow::bail!("keep-evidence-crops is true or false, not {v:?}"),
                    }
                }
                "retention-days" if none => s.retention_days = None,
                "retention-days" => s.retention_days = Some(number(name)?),
                "sis-code-present" => v.clone_into(&mut s.sis_codes.present),
                "sis-code-late" => v.clone_into(&mut s.sis_codes.late),
                "sis-code-absent" => v.clone_into(&mut s.sis_codes.absent),
                "sis-code-excused" => v.clone_into(&mut s.sis_codes.excused),
                other => anyhow::bail!(
                    "there is no setting {other:?}; the settings are: {}",
                    pairs(&s)
                        .iter()
                        .map(|(n, _)| *n)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            }
            store.save_settings(&s)?;
            outln!("{name} is now {v}");
        }
    }
    Ok(())
}
