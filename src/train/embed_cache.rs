//! Embeddings of training photos kept across runs, so a face head trained again on the same
//! folder costs only the head: each photo is embedded by the frozen base encoder once.
//!
//! One file per encoder and chip recipe (`<model id>-<aligned|square>.emb`) in the cache folder.
//! A photo is found by the sha256 of its bytes, so a renamed or moved photo is still found and an
//! edited one is embedded again. The file is a header line `rollcall-embeddings 1 <model id>
//! <dim>` then one record per photo: the 32-byte hash and `dim` little-endian `f32`s. It is
//! rewritten whole (to a temporary file, then renamed) when new photos were embedded. A file
//! that cannot be read, was written for another encoder, or ends in a torn record is not an
//! error: what can be read is used and the rest is embedded again.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::TrainError;

/// The sha256 of a photo's bytes.
pub type PhotoHash = [u8; 32];

const MAGIC: &str = "rollcall-embeddings 1";

/// The sha256 of a file's bytes.
pub fn hash_file(path: &Path) -> Result<PhotoHash, TrainError> {
    let bytes = std::fs::read(path).map_err(|source| TrainError::Io {
        context: format!("reading {}", path.display()),
        source,
    })?;
    Ok(Sha256::digest(&bytes).into())
}

/// The cached embeddings of one encoder and chip recipe.
#[derive(Debug)]
pub struct EmbeddingCache {
    path: PathBuf,
    model_id: String,
    dim: usize,
    entries: HashMap<PhotoHash, Vec<f32>>,
    changed: bool,
}

impl EmbeddingCache {
    /// The cache of `model_id` (`dim`-D) with chips `aligned` or not, in `dir`; empty when its
    /// file is missing or unusable (why is logged).
    #[must_use]
    pub fn open(dir: &Path, model_id: &str, dim: usize, aligned: bool) -> Self {
        let safe: String = model_id
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let recipe = if aligned { "aligned" } else { "square" };
        let path = dir.join(format!("{safe}-{recipe}.emb"));
        let mut cache = Self {
            path,
            model_id: model_id.to_owned(),
            dim,
            entries: HashMap::new(),
            changed: false,
        };
        match std::fs::read(&cache.path) {
            Ok(bytes) => cache.read(&bytes),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
            Err(err) => log::warn!(
                "embedding cache {} is not readable ({err}); embedding every photo",
                cache.path.display()
            ),
        }
        cache
    }

    fn read(&mut self, bytes: &[u8]) {
        let header = format!("{MAGIC} {} {}\n", self.model_id, self.dim);
        let Some(records) = bytes.strip_prefix(header.as_bytes()) else {
            log::warn!(
                "embedding cache {} was written for another encoder or version; starting it again",
                self.path.display()
            );
            self.changed = true;
            return;
        };
        let record = 32 + 4 * self.dim;
        let whole = records.chunks_exact(record);
        if !whole.remainder().is_empty() {
            log::warn!(
                "embedding cache {} ends in a torn record; the photos after it are embedded again",
                self.path.display()
            );
            self.changed = true;
        }
        for r in whole {
            let (hash, values) = r.split_at(32);
            let values: Vec<f32> = values
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect();
            if values.iter().all(|v| v.is_finite()) {
                let mut key = [0u8; 32];
                key.copy_from_slice(hash);
                self.entries.insert(key, values);
            } else {
                self.changed = true;
            }
        }
    }

    /// The file the cache lives in.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Photos in the cache.
    #[must_use]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the cache holds no photo.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The embedding of the photo with this hash, if cached.
    #[must_use]
    pub fn get(&self, hash: &PhotoHash) -> Option<&[f32]> {
        self.entries.get(hash).map(Vec::as_slice)
    }

    /// Adds a photo's embedding (ignored unless it has the cache's size and finite values).
    pub fn insert(&mut self, hash: PhotoHash, embedding: &[f32]) {
        if embedding.len() == self.dim && embedding.iter().all(|v| v.is_finite()) {
            self.entries.insert(hash, embedding.to_vec());
            self.changed = true;
        }
    }

    /// Writes the cache when it changed: to a temporary file beside it, then renamed over it,
    /// so a run stopped halfway leaves the old file whole.
    pub fn save(&mut self) -> Result<(), TrainError> {
        if !self.changed {
            return Ok(());
        }
        let io = |context: String| move |source| TrainError::Io { context, source };
        let dir = self.path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(io(format!("creating {}", dir.display())))?;
        let tmp = self.path.with_extension("emb.tmp");
        let mut out = Vec::with_capacity(64 + self.entries.len() * (32 + 4 * self.dim));
        out.extend_from_slice(format!("{MAGIC} {} {}\n", self.model_id, self.dim).as_bytes());
        // Sorted by hash, so the same photos always give the same file.
        let mut keys: Vec<&PhotoHash> = self.entries.keys().collect();
        keys.sort_unstable();
        for key in keys {
            out.extend_from_slice(key);
            for v in &self.entries[key] {
                out.extend_from_slice(&v.to_le_bytes());
            }
        }
        let mut file =
            std::fs::File::create(&tmp).map_err(io(format!("creating {}", tmp.display())))?;
        file.write_all(&out)
            .and_then(|()| file.sync_all())
            .map_err(io(format!("writing {}", tmp.display())))?;
        std::fs::rename(&tmp, &self.path).map_err(io(format!(
            "replacing {} with {}",
            self.path.display(),
            tmp.display()
        )))?;
        self.changed = false;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash(i: u8) -> PhotoHash {
        [i; 32]
    }

    #[test]
    fn embeddings_come_back_after_a_save_and_only_for_their_encoder() {
        let dir = tempfile::tempdir().unwrap();
        let mut cache = EmbeddingCache::open(dir.path(), "dlib/resnet v1", 3, true);
        assert!(cache.is_empty());
        cache.insert(hash(1), &[0.5, -1.0, 2.0]);
        cache.insert(hash(2), &[1.0, 0.0, 0.0]);
        cache.insert(hash(3), &[1.0, 0.0]); // wrong size: ignored
        cache.insert(hash(4), &[f32::NAN, 0.0, 0.0]); // not finite: ignored
        cache.save().unwrap();
        assert!(
            cache
                .path()
                .file_name()
                .unwrap()
                .to_string_lossy()
                .ends_with("-aligned.emb")
        );

        let again = EmbeddingCache::open(dir.path(), "dlib/resnet v1", 3, true);
        assert_eq!(again.len(), 2);
        assert_eq!(again.get(&hash(1)), Some(&[0.5, -1.0, 2.0][..]));
        assert_eq!(again.get(&hash(3)), None);
        // Square chips and other encoders have caches of their own.
        assert!(EmbeddingCache::open(dir.path(), "dlib/resnet v1", 3, false).is_empty());
        assert!(EmbeddingCache::open(dir.path(), "mobilefacenet", 3, true).is_empty());
    }

    #[test]
    fn a_torn_or_foreign_file_is_used_as_far_as_it_reads_and_then_rewritten() {
        let dir = tempfile::tempdir().unwrap();
        let mut cache = EmbeddingCache::open(dir.path(), "m", 2, true);
        cache.insert(hash(1), &[1.0, 2.0]);
        cache.insert(hash(2), &[3.0, 4.0]);
        cache.save().unwrap();
        let path = cache.path().to_owned();
        // A run killed while appending: the last record is cut short.
        let mut bytes = std::fs::read(&path).unwrap();
        bytes.truncate(bytes.len() - 3);
        std::fs::write(&path, &bytes).unwrap();
        let mut torn = EmbeddingCache::open(dir.path(), "m", 2, true);
        assert_eq!(torn.len(), 1);
        torn.save().unwrap();
        assert_eq!(EmbeddingCache::open(dir.path(), "m", 2, true).len(), 1);

        // Garbage, or a header of another size, starts the cache again.
        std::fs::write(&path, b"not a cache").unwrap();
        let mut foreign = EmbeddingCache::open(dir.path(), "m", 2, true);
        assert!(foreign.is_empty());
        foreign.insert(hash(9), &[0.0, 1.0]);
        foreign.save().unwrap();
        let back = EmbeddingCache::open(dir.path(), "m", 2, true);
        assert_eq!(back.get(&hash(9)), Some(&[0.0, 1.0][..]));
    }

    #[test]
    fn a_photo_is_found_by_its_bytes_not_its_name() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.png");
        let b = dir.path().join("renamed.png");
        std::fs::write(&a, b"same bytes").unwrap();
        std::fs::write(&b, b"same bytes").unwrap();
        assert_eq!(hash_file(&a).unwrap(), hash_file(&b).unwrap());
        std::fs::write(&b, b"edited bytes").unwrap();
        assert_ne!(hash_file(&a).unwrap(), hash_file(&b).unwrap());
        assert!(hash_file(&dir.path().join("missing.png")).is_err());
    }
}
