//! One face's MobileFaceNet pass split over a small team of threads that stay awake for the
//! whole pass. Each thread owns one band of rows of every feature map, from the stem to the
//! last 1×1 layer: the 1×1 layers need nothing but their own rows, and before each depthwise
//! layer the threads swap the one or two edge rows its 3×3 filter reads across a band's edge,
//! at a spinning barrier. The calling thread then runs the global depthwise filter and the two
//! linear layers on the gathered 7×7 map.
//!
//! Why not rayon: handing a layer to rayon's pool costs a wake-up of the sleeping worker each
//! time, and on a virtual machine that took 50–70 µs (`rayon::join` of two 30 µs tasks took
//! 80 µs when the pool had been idle for 20 µs), longer than most of MobileFaceNet's layers
//! take to run. A team is woken once per face and spins between layers, so one face runs in
//! about half the time of one thread (`rollcall bench faces`). Several faces still go one per
//! thread through rayon, which has no per-layer hand-offs.

use std::ops::Range;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::JoinHandle;
use std::time::Duration;

use candle_core::Result;

use super::model::MobileFaceNet;
use super::ops::{DepthwiseConv, Im2ColNhwc, Padding};

/// The most threads a team takes: the 7×7 maps at the end leave each of four threads at least
/// one row, and more threads would spend longer at the barriers than in the layers.
pub const MAX_THREADS: usize = 4;

/// Rows at each end of its band that a thread hands to its neighbours before a depthwise
/// layer: a `k × k` filter reads at most `k − 1` rows past a band's edge.
const EDGE_ROWS: usize = 2;

/// Spins at a barrier before a waiting thread starts yielding its CPU between looks. A yield
/// with nothing else to run returns at once, so on CPUs of their own the threads still meet
/// within a microsecond or so. But a helper woken by the caller is sometimes put on the
/// caller's CPU (the scheduler prefers the waker's CPU), and then only yielding lets the other
/// run: with 16 384 spins before each yield such a pass took 9.3 ms, twice one thread's time;
/// with 64 it takes about one thread's time, until the scheduler moves the helper.
const SPINS_BEFORE_YIELD: u32 = 64;

/// Rows `[n·t/T, n·(t+1)/T)`: thread `t`'s band of an `n`-row map.
fn band(n: usize, t: usize, threads: usize) -> Range<usize> {
    n * t / threads..n * (t + 1) / threads
}

fn stopped() -> candle_core::Error {
    candle_core::Error::Msg("a thread of the MobileFaceNet team stopped".into())
}

/// A barrier that spins: every thread of the team is on a CPU for the whole pass, so waiting
/// costs nanoseconds rather than a wake-up. It gives up when a thread reports a failure.
struct SpinBarrier {
    threads: usize,
    arrived: AtomicUsize,
    generation: AtomicUsize,
}

impl SpinBarrier {
    /// Waits for the whole team; `false` when a thread has failed.
    fn wait(&self, failed: &AtomicBool) -> bool {
        let generation = self.generation.load(Ordering::Acquire);
        if self.arrived.fetch_add(1, Ordering::AcqRel) + 1 == self.threads {
            self.arrived.store(0, Ordering::Relaxed);
            self.generation.fetch_add(1, Ordering::Release);
            return !failed.load(Ordering::Acquire);
        }
        let mut spins = 0u32;
        while self.generation.load(Ordering::Acquire) == generation {
            if failed.load(Ordering::Acquire) {
                return false;
            }
            if spins < SPINS_BEFORE_YIELD {
                std::hint::spin_loop();
                spins += 1;
            } else {
                std::thread::yield_now();
            }
        }
        !failed.load(Ordering::Acquire)
    }
}

/// Edge rows a thread hands over: `(row, values)`.
type Edges = Vec<(usize, Vec<f32>)>;

/// What the team's threads share.
struct Shared {
    threads: usize,
    barrier: SpinBarrier,
    /// Set by any thread that fails (or panics), so that the others stop waiting.
    failed: AtomicBool,
    /// Each thread's edge rows, in two sets used by turns: a thread writes a set again only
    /// two depthwise layers later, after every thread has passed the barrier between, so
    /// after every reader of the set is done with it.
    edges: [Vec<Mutex<Edges>>; 2],
    /// Each thread's band of the last 1×1 layer's output, for the calling thread to gather.
    last: Vec<Mutex<Vec<f32>>>,
}

/// A thread's buffers, kept from face to face so that no pass allocates or faults in pages.
#[derive(Default)]
struct Scratch {
    x: Vec<f32>,
    slab: Vec<f32>,
    dw: Vec<f32>,
    out: Vec<f32>,
    cols: Vec<f32>,
}

/// The first `n` values of `buf`, grown when short.
fn take(buf: &mut Vec<f32>, n: usize) -> &mut [f32] {
    if buf.len() < n {
        buf.resize(n, 0.0);
    }
    &mut buf[..n]
}

/// One thread's walk through the network.
struct Walk<'a> {
    net: &'a MobileFaceNet,
    shared: &'a Shared,
    t: usize,
    /// Which set of edge slots the next depthwise layer uses.
    turn: usize,
}

impl Walk<'_> {
    /// Thread `t`'s band of one depthwise layer. `produce` writes this thread's rows of the
    /// layer's input (`own` of an `h × w × c` map) into the slice it is given; the edge rows
    /// the filter reads beyond them come from the neighbours; the layer's output rows go to
    /// `out`. Returns the output's height and width.
    #[allow(clippy::too_many_arguments)] // The buffers are separate fields, borrowed apart.
    fn depthwise(
        &mut self,
        dw: &DepthwiseConv,
        (h, w, c): (usize, usize, usize),
        slab_buf: &mut Vec<f32>,
        out_buf: &mut Vec<f32>,
        produce: impl FnOnce(&mut [f32]) -> Result<()>,
    ) -> Result<(usize, usize)> {
        let threads = self.shared.threads;
        let own = band(h, self.t, threads);
        let (ho, wo) = dw.output_size(h, w);
        let out_rows = band(ho, self.t, threads);
        let need = dw.input_rows(h, out_rows.clone());
        let held = need.start.min(own.start)..need.end.max(own.end);
        if own.start - held.start > EDGE_ROWS || held.end - own.end > EDGE_ROWS {
            candle_core::bail!(
                "MobileFaceNet team: rows {need:?} are too far from the band {own:?} of {h}"
            )
        }
        let row = w * c;
        let slab = take(slab_buf, held.len() * row);
        produce(&mut slab[(own.start - held.start) * row..(own.end - held.start) * row])?;
        {
            let mut mine = self.shared.edges[self.turn][self.t]
                .lock()
                .map_err(|_| stopped())?;
            mine.clear();
            for r in own.clone() {
                if r < own.start + EDGE_ROWS || r + EDGE_ROWS >= own.end {
                    let at = (r - held.start) * row;
                    mine.push((r, slab[at..at + row].to_vec()));
                }
            }
        }
        if !self.shared.barrier.wait(&self.shared.failed) {
            return Err(stopped());
        }
        for r in (need.start..own.start).chain(own.end..need.end) {
            let owner = (0..threads)
                .find(|&b| band(h, b, threads).contains(&r))
                .ok_or_else(stopped)?;
            let theirs = self.shared.edges[self.turn][owner]
                .lock()
                .map_err(|_| stopped())?;
            let (_, values) = theirs.iter().find(|(i, _)| *i == r).ok_or_else(|| {
                candle_core::Error::Msg(format!("MobileFaceNet team: row {r} was not handed over"))
            })?;
            let at = (r - held.start) * row;
            slab[at..at + row].copy_from_slice(values);
        }
        self.turn ^= 1;
        let out = take(out_buf, out_rows.len() * wo * c);
        dw.band(slab, held.start, (h, w), out_rows.start, out)?;
        Ok((ho, wo))
    }

    /// This thread's part of the pass over one chip (`[S, S, 3]`, normalised): its band of the
    /// last 1×1 layer's output ends up in `shared.last[t]`.
    fn run(&mut self, chip: &[f32], sc: &mut Scratch) -> Result<()> {
        let net = self.net;
        let s = net.config().input_size;
        let threads = self.shared.threads;
        let im2col = Im2ColNhwc {
            kernel: 3,
            stride: 2,
            padding: Padding::Same,
            parallel: false,
        };
        let (h, _) = Padding::Same.plan(s, 3, 2);
        let w = h;
        let c0 = net.conv1.0.0.post.bias.len();
        // Stem (im2col + 1×1) straight into the first depthwise layer's input.
        let own = band(h, self.t, threads);
        let cols = take(&mut sc.cols, own.len() * w * 27);
        im2col.band(chip, (s, s, 3), own.start, cols)?;
        let stem = &net.conv1.0.0;
        let (mut h, mut w) = self.depthwise(
            &net.dw_conv1.0,
            (h, w, c0),
            &mut sc.slab,
            &mut sc.dw,
            |into| stem.band(cols, into, None),
        )?;
        let rows = band(h, self.t, threads).len() * w;
        let x = take(&mut sc.x, rows * c0);
        net.pw_conv1.0.band(&sc.dw[..rows * c0], x, None)?;
        let mut c = c0;
        for block in &net.blocks {
            let mid = block.expand.0.post.bias.len();
            let rows = band(h, self.t, threads).len() * w;
            let x = &sc.x[..rows * c];
            let expand = &block.expand.0;
            (h, w) =
                self.depthwise(&block.dw.0, (h, w, mid), &mut sc.slab, &mut sc.dw, |into| {
                    expand.band(x, into, None)
                })?;
            let c_out = block.project.0.post.bias.len();
            let rows = band(h, self.t, threads).len() * w;
            let out = take(&mut sc.out, rows * c_out);
            let residual = block.residual.then_some(x);
            block.project.0.band(&sc.dw[..rows * mid], out, residual)?;
            std::mem::swap(&mut sc.x, &mut sc.out);
            c = c_out;
        }
        let rows = band(h, self.t, threads).len() * w;
        let c_last = net.conv2.0.post.bias.len();
        let out = take(&mut sc.out, rows * c_last);
        net.conv2.0.band(&sc.x[..rows * c], out, None)?;
        {
            let mut last = self.shared.last[self.t].lock().map_err(|_| stopped())?;
            last.clear();
            last.extend_from_slice(out);
        }
        if self.shared.barrier.wait(&self.shared.failed) {
            Ok(())
        } else {
            Err(stopped())
        }
    }
}

/// Sets the team's failure flag if the thread unwinds, so that no one waits for it.
struct FailOnPanic<'a>(&'a AtomicBool);

impl Drop for FailOnPanic<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.store(true, Ordering::Release);
        }
    }
}

/// One empty slot per thread.
fn slots<T>(threads: usize) -> Vec<Mutex<Vec<T>>> {
    (0..threads).map(|_| Mutex::new(Vec::new())).collect()
}

/// The calling thread and its helpers, ready for one face at a time.
pub struct Team {
    net: MobileFaceNet,
    shared: Arc<Shared>,
    jobs: Vec<mpsc::SyncSender<Arc<Vec<f32>>>>,
    helpers: Vec<JoinHandle<()>>,
    scratch: Scratch,
    /// Set after a failure: the barrier's count is then unknown, so the team is not used again.
    broken: bool,
}

impl Team {
    /// A team of `threads` (the calling thread and `threads − 1` helpers, at most
    /// [`MAX_THREADS`] and no more than the last map has rows), or `None` when that leaves
    /// fewer than two or the helpers cannot be started.
    #[must_use]
    pub fn new(net: &MobileFaceNet, threads: usize) -> Option<Self> {
        let threads = threads.min(MAX_THREADS).min(net.config().final_size());
        if threads < 2 {
            return None;
        }
        let shared = Arc::new(Shared::new(threads));
        let mut jobs = Vec::new();
        let mut helpers = Vec::new();
        for t in 1..threads {
            // One face at a time: the caller waits for the whole pass before sending the next.
            let (tx, rx) = mpsc::sync_channel::<Arc<Vec<f32>>>(1);
            let shared = Arc::clone(&shared);
            let net = net.clone();
            let helper = std::thread::Builder::new()
                .name(format!("mobilefacenet-{t}"))
                .spawn(move || {
                    let mut scratch = Scratch::default();
                    while let Ok(chip) = rx.recv() {
                        let _guard = FailOnPanic(&shared.failed);
                        let mut walk = Walk {
                            net: &net,
                            shared: &shared,
                            t,
                            turn: 0,
                        };
                        if walk.run(&chip, &mut scratch).is_err() {
                            shared.failed.store(true, Ordering::Release);
                        }
                    }
                });
            match helper {
                Ok(handle) => {
                    jobs.push(tx);
                    helpers.push(handle);
                }
                Err(err) => {
                    log::warn!("MobileFaceNet runs one face on one thread: {err}");
                    return None; // Dropping `jobs` lets the helpers already started end.
                }
            }
        }
        Some(Self {
            net: net.clone(),
            shared,
            jobs,
            helpers,
            scratch: Scratch::default(),
            broken: false,
        })
    }

    /// Threads in the team, the calling one included.
    #[must_use]
    pub fn threads(&self) -> usize {
        self.shared.threads
    }

    /// The raw (not normalised) embedding of one chip, `[S, S, 3]` normalised RGB (NHWC).
    /// After an error the team refuses every later face, and the caller runs it alone.
    pub fn forward(&mut self, chip: Vec<f32>) -> Result<Vec<f32>> {
        let s = self.net.config().input_size;
        if chip.len() != s * s * 3 {
            candle_core::bail!("MobileFaceNet team: a chip of {} values", chip.len())
        }
        if self.broken {
            return Err(stopped());
        }
        let out = self.pass(chip);
        if out.is_err() {
            self.broken = true;
            self.shared.failed.store(true, Ordering::Release);
        }
        out
    }

    fn pass(&mut self, chip: Vec<f32>) -> Result<Vec<f32>> {
        let chip = Arc::new(chip);
        for job in &self.jobs {
            job.send(Arc::clone(&chip)).map_err(|_| stopped())?;
        }
        let mut walk = Walk {
            net: &self.net,
            shared: &self.shared,
            t: 0,
            turn: 0,
        };
        walk.run(&chip, &mut self.scratch)?;
        head(&self.net, &self.shared, &mut self.scratch)
    }
}

/// The calling thread's part after the bands: every band of the last 1×1 layer, top to
/// bottom, is the whole final map; then the global depthwise filter and the linear layers.
fn head(net: &MobileFaceNet, shared: &Shared, scratch: &mut Scratch) -> Result<Vec<f32>> {
    let side = net.config().final_size();
    let c = net.conv2.0.post.bias.len();
    let map = &mut scratch.slab;
    map.clear();
    for part in &shared.last {
        map.extend_from_slice(&part.lock().map_err(|_| stopped())?);
    }
    if map.len() != side * side * c {
        candle_core::bail!("MobileFaceNet team: gathered {} values", map.len())
    }
    let mut pooled = vec![0f32; c];
    net.gdc.0.band(map, 0, (side, side), 0, &mut pooled)?;
    let mut linear = vec![0f32; net.linear.0.post.bias.len()];
    net.linear.0.band(&pooled, &mut linear, None)?;
    let mut embedding = vec![0f32; net.embedding.0.post.bias.len()];
    net.embedding.0.band(&linear, &mut embedding, None)?;
    Ok(embedding)
}

impl Shared {
    fn new(threads: usize) -> Self {
        Self {
            threads,
            barrier: SpinBarrier {
                threads,
                arrived: AtomicUsize::new(0),
                generation: AtomicUsize::new(0),
            },
            failed: AtomicBool::new(false),
            edges: [slots(threads), slots(threads)],
            last: slots(threads),
        }
    }
}

thread_local! {
    /// Each thread's buffers for [`alone`], kept from face to face.
    static ALONE: std::cell::RefCell<(Shared, Scratch)> =
        std::cell::RefCell::new((Shared::new(1), Scratch::default()));
}

/// The raw embedding of one chip (`[S, S, 3]`, normalised) on the calling thread alone, with
/// buffers kept by the thread from face to face. This is what each thread runs for its share
/// of a batch: candle's tensors would allocate and zero every layer's output, and a third of
/// one face's time went to that (measured with `perf` on `rollcall bench faces`).
pub fn alone(net: &MobileFaceNet, chip: &[f32]) -> Result<Vec<f32>> {
    let s = net.config().input_size;
    if chip.len() != s * s * 3 {
        candle_core::bail!("MobileFaceNet: a chip of {} values", chip.len())
    }
    ALONE.with(|cell| {
        let Ok(mut state) = cell.try_borrow_mut() else {
            candle_core::bail!("MobileFaceNet: a pass is already running on this thread")
        };
        let (shared, scratch) = &mut *state;
        Walk {
            net,
            shared,
            t: 0,
            turn: 0,
        }
        .run(chip, scratch)?;
        head(net, shared, scratch)
    })
}

impl Drop for Team {
    fn drop(&mut self) {
        // Closing the channels ends each helper's loop.
        self.jobs.clear();
        for helper in self.helpers.drain(..) {
            if helper.join().is_err() {
                log::warn!("a MobileFaceNet helper thread had panicked");
            }
        }
    }
}

/// Chooses, face by face, between the team and the calling thread alone: whichever was faster
/// lately, with the other tried again every [`Chooser::PROBE_EVERY`] faces so that a change of
/// load is noticed. Each way is judged by the fastest of its last [`Chooser::KEPT`] faces: one
/// slow face (another program woke up for a moment) does not turn the team off, three in a row
/// do, and a single fast try brings it back.
#[derive(Debug, Default)]
pub struct Chooser {
    /// The last milliseconds a face took on the team and alone, newest last.
    team_ms: Vec<f64>,
    alone_ms: Vec<f64>,
    /// Team passes run so far (the first, which starts the helpers, is not timed).
    team_passes: u64,
    faces: u64,
}

impl Chooser {
    /// The other way is tried once in this many faces.
    pub const PROBE_EVERY: u64 = 16;
    /// Faces remembered for each way.
    pub const KEPT: usize = 3;

    fn best(times: &[f64]) -> Option<f64> {
        times.iter().copied().reduce(f64::min)
    }

    /// Whether the next face goes to the team.
    pub fn team_next(&mut self) -> bool {
        self.faces += 1;
        match (Self::best(&self.team_ms), Self::best(&self.alone_ms)) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(team), Some(alone)) => {
                (team <= alone) != self.faces.is_multiple_of(Self::PROBE_EVERY)
            }
        }
    }

    /// Records how long a face took on the team (`on_team`) or alone.
    pub fn record(&mut self, on_team: bool, took: Duration) {
        let ms = took.as_secs_f64() * 1e3;
        if on_team {
            self.team_passes += 1;
            if self.team_passes == 1 {
                return;
            }
        }
        let times = if on_team {
            &mut self.team_ms
        } else {
            &mut self.alone_ms
        };
        if times.len() == Self::KEPT {
            times.remove(0);
        }
        times.push(ms);
    }
}
