//! Student thumbnails decoded on a background thread, so large photos never stall the window.

use std::collections::HashMap;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};

use crate::core::StudentId;
use crate::vision::image_io;

/// Longest side of a thumbnail, in pixels.
const THUMB_PX: u32 = 96;

struct Decoded {
    student: StudentId,
    version: u64,
    image: Option<egui::ColorImage>,
}

/// Textures of student thumbnails, keyed by student and refreshed when the data changes.
pub struct Thumbnails {
    textures: HashMap<StudentId, (u64, Option<egui::TextureHandle>)>,
    requests: Option<SyncSender<(StudentId, u64, Vec<u8>)>>,
    results: Receiver<Decoded>,
}

impl std::fmt::Debug for Thumbnails {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Thumbnails")
            .field("cached", &self.textures.len())
            .finish_non_exhaustive()
    }
}

impl Thumbnails {
    /// Starts the decoding thread; `wake` is called when a thumbnail is ready.
    #[must_use]
    pub fn new(wake: impl Fn() + Send + 'static) -> Self {
        let (req_tx, req_rx) = sync_channel::<(StudentId, u64, Vec<u8>)>(64);
        let (res_tx, res_rx) = sync_channel::<Decoded>(64);
        let spawned = std::thread::Builder::new()
            .name("thumbnails".into())
            .spawn(move || {
                for (student, version, bytes) in req_rx {
                    let image = image_io::decode(&bytes).ok().map(|img| {
                        let small = img.thumbnail(THUMB_PX, THUMB_PX).to_rgb8();
                        egui::ColorImage::from_rgb(
                            [small.width() as usize, small.height() as usize],
                            small.as_raw(),
                        )
                    });
                    if res_tx
                        .send(Decoded {
                            student,
                            version,
                            image,
                        })
                        .is_err()
                    {
                        break;
                    }
                    wake();
                }
            });
        let requests = match spawned {
            Ok(_) => Some(req_tx),
            Err(err) => {
                log::warn!("no thumbnail thread, thumbnails are off: {err}");
                None
            }
        };
        Self {
            textures: HashMap::new(),
            requests,
            results: res_rx,
        }
    }

    /// Takes finished thumbnails and turns them into textures.
    pub fn poll(&mut self, ctx: &egui::Context) {
        while let Ok(d) = self.results.try_recv() {
            let texture = d.image.map(|img| {
                ctx.load_texture(
                    format!("thumb-{}", d.student),
                    img,
                    egui::TextureOptions::LINEAR,
                )
            });
            self.textures.insert(d.student, (d.version, texture));
        }
    }

    /// The thumbnail of `student` at data `version`, asking for it (from `photo`) if needed.
    pub fn get(
        &mut self,
        student: StudentId,
        version: u64,
        photo: impl FnOnce() -> Option<Vec<u8>>,
    ) -> Option<egui::TextureHandle> {
        match self.textures.get(&student) {
            Some((v, tex)) if *v == version => tex.clone(),
            Some((_, tex)) => {
                let old = tex.clone();
                self.request(student, version, photo);
                old
            }
            None => {
                self.request(student, version, photo);
                None
            }
        }
    }

    fn request(
        &mut self,
        student: StudentId,
        version: u64,
        photo: impl FnOnce() -> Option<Vec<u8>>,
    ) {
        // Mark as requested so the photo is read once per version.
        let old = self.textures.get(&student).and_then(|(_, t)| t.clone());
        self.textures.insert(student, (version, old));
        let (Some(tx), Some(bytes)) = (&self.requests, photo()) else {
            return;
        };
        if let Err(TrySendError::Full(_)) = tx.try_send((student, version, bytes)) {
            // Busy: forget the request so it is asked again on a later frame.
            self.textures.remove(&student);
        }
    }
}
