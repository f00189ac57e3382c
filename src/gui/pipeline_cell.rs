//! The face pipeline of the window and of its command worker, loaded on first use.

use std::sync::Arc;

use crate::store::Store;
use crate::vision::FacePipeline;

/// The face pipeline, created on first use (loading the models takes a moment).
#[derive(Default)]
pub struct PipelineCell(Option<Arc<FacePipeline>>);

impl std::fmt::Debug for PipelineCell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "PipelineCell(loaded)"
        } else {
            "PipelineCell(empty)"
        })
    }
}

impl PipelineCell {
    /// The pipeline, loading it (and registering its encoder in `store`) the first time, and
    /// again when attendance switched to another encoder since.
    pub fn get(&mut self, store: &Store) -> anyhow::Result<Arc<FacePipeline>> {
        let active = store.active_encoder()?.map(|e| e.id);
        if let Some(p) = &self.0
            && active.as_ref() == Some(p.encoder().model_id())
        {
            return Ok(Arc::clone(p));
        }
        let p = Arc::new(crate::workflow::enroll::pipeline_for(store)?);
        self.0 = Some(Arc::clone(&p));
        Ok(p)
    }
}
