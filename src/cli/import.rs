//! `rollcall import-weights`: converts pretrained models of other tools to safetensors.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Subcommand;

use super::outln;
use crate::vision::dlib::import;

/// Where the weights come from.
#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// A dlib `.dat` model: the face-recognition ResNet or a shape predictor. Writes
    /// `OUT/<name>.safetensors` and `OUT/<name>.json` (its configuration).
    Dlib {
        /// The `.dat` file (e.g. `dlib_face_recognition_resnet_model_v1.dat`).
        file: PathBuf,
        /// The output folder.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
}

/// Runs `rollcall import-weights`.
pub fn run(command: ImportCommand) -> anyhow::Result<()> {
    match command {
        ImportCommand::Dlib { file, out } => {
            let (converted, files) = import::import_file(&file, &out)
                .with_context(|| format!("importing {}", file.display()))?;
            let values: usize = converted
                .tensors
                .iter()
                .map(|t| t.1.iter().product::<usize>())
                .sum();
            outln!(
                "converted a dlib {} ({} tensors, {values} values)",
                converted.kind.replace('_', " "),
                converted.tensors.len()
            );
            for f in files {
                outln!("wrote {}", f.display());
            }
            Ok(())
        }
    }
}
