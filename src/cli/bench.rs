//! `rollcall bench ...`: performance figures printed as tables (run them with `--release`).

use std::time::Instant;

use clap::Subcommand;

use super::{outln, table};
use crate::core::{Embedding, Gallery, Metric, ModelId, StudentId};

/// Benchmarks.
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Matching one face against N enrolled embeddings (1:N search), per metric.
    Match {
        /// Enrolled embeddings.
        #[arg(long, default_value_t = 10_000)]
        enrolled: usize,
        /// Embedding size.
        #[arg(long, default_value_t = 128)]
        dim: usize,
        /// Probes to time.
        #[arg(long, default_value_t = 200)]
        probes: usize,
    },
}

/// Runs a benchmark.
pub fn run(command: &BenchCommand) -> anyhow::Result<()> {
    match command {
        BenchCommand::Match {
            enrolled,
            dim,
            probes,
        } => bench_match(*enrolled, *dim, *probes),
    }
}

/// A deterministic pseudo-random vector (xorshift), so runs are comparable.
fn vector(seed: u64, dim: usize) -> Vec<f32> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..dim)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 40) as f32 / (1u64 << 24) as f32 - 0.5
        })
        .collect()
}

fn bench_match(enrolled: usize, dim: usize, probes: usize) -> anyhow::Result<()> {
    anyhow::ensure!(
        enrolled > 0 && dim > 0 && probes > 0,
        "sizes must be positive"
    );
    let model = ModelId::new("bench");
    let mut rows = Vec::new();
    for metric in [Metric::Euclidean, Metric::Cosine] {
        let mut gallery = Gallery::new(model.clone(), metric, dim);
        for i in 0..enrolled {
            gallery.insert(
                StudentId(i as i64),
                &Embedding::new(model.clone(), vector(i as u64, dim))?,
            )?;
        }
        let queries: Vec<Embedding> = (0..probes)
            .map(|i| Embedding::new(model.clone(), vector(1_000_000 + i as u64, dim)))
            .collect::<Result<_, _>>()?;
        // Warm up, then time each probe.
        gallery.rank(&queries[0])?;
        let mut times: Vec<f64> = Vec::with_capacity(probes);
        let mut checksum = 0.0f32;
        for q in &queries {
            let t = Instant::now();
            let r = gallery.rank(q)?;
            times.push(t.elapsed().as_secs_f64() * 1e3);
            checksum += r.and_then(|r| r.best()).map_or(0.0, |b| b.distance);
        }
        times.sort_by(f64::total_cmp);
        let median = times[times.len() / 2];
        let p95 = times[(times.len() * 95 / 100).min(times.len() - 1)];
        let flops = 3.0 * (enrolled * dim) as f64;
        rows.push(vec![
            metric.to_string(),
            enrolled.to_string(),
            dim.to_string(),
            format!("{median:.3}"),
            format!("{p95:.3}"),
            format!("{:.1}", flops / (median * 1e-3) / 1e9),
            format!("{checksum:.1}"),
        ]);
    }
    outln!("1:N matching, one probe against the gallery (target: <= 1 ms for 10,000 x 128)");
    table::print(
        &[
            "metric",
            "enrolled",
            "dim",
            "median ms",
            "p95 ms",
            "GFLOP/s",
            "checksum",
        ],
        &rows,
    );
    if cfg!(debug_assertions) {
        outln!(
            "note: this is a debug build; run `cargo run --release -- bench match` for real figures"
        );
    }
    Ok(())
}
