//! Times the pieces of one seed-recipe training step (not part of the app).
#![allow(clippy::unwrap_used, clippy::print_stdout, missing_docs)]
use candle_core::{Device, Module, Tensor};
use candle_nn::Optimizer;
use rollcall::vision::encoders::{init::seeded_var_builder, ops, seed_cnn};
fn time<F: FnMut()>(name: &str, n: usize, mut f: F) {
    f();
    let t = std::time::Instant::now();
    for _ in 0..n {
        f();
    }
    println!(
        "{name:30} {:8.3} ms",
        t.elapsed().as_secs_f64() * 1e3 / n as f64
    );
}
fn main() {
    let vm = candle_nn::VarMap::new();
    let net =
        seed_cnn::SeedCnn::new(&seed_cnn::Config::seed(), &seeded_var_builder(&vm, 0)).unwrap();
    let mut opt = candle_nn::AdamW::new(
        vm.all_vars(),
        candle_nn::ParamsAdamW {
            lr: 1e-3,
            ..Default::default()
        },
    )
    .unwrap();
    let x = Tensor::rand(0f32, 1., (256, 28, 28, 1), &Device::Cpu).unwrap();
    let y = Tensor::rand(0f32, 1., 128, &Device::Cpu)
        .unwrap()
        .ge(0.5)
        .unwrap()
        .to_dtype(candle_core::DType::F32)
        .unwrap();
    let loss = |x: &Tensor| {
        let e = net.forward(x).unwrap();
        let d = rollcall::train::losses::pair_distance(
            &e.narrow(0, 0, 128).unwrap(),
            &e.narrow(0, 128, 128).unwrap(),
        )
        .unwrap();
        rollcall::train::losses::contrastive(&d, &y, 1.0).unwrap()
    };
    let n = 30;
    time("forward", n, || {
        net.forward(&x).unwrap();
    });
    time("forward+loss", n, || {
        loss(&x);
    });
    time("forward+backward", n, || {
        loss(&x).backward().unwrap();
    });
    time("full step", n, || {
        let l = loss(&x);
        l.to_scalar::<f32>().unwrap();
        opt.backward_step(&l).unwrap();
    });
    let w1 = Tensor::rand(0f32, 1., (4, 1, 5, 5), &Device::Cpu).unwrap();
    let b1 = Tensor::zeros(4, candle_core::DType::F32, &Device::Cpu).unwrap();
    time("conv1 fwd", n, || {
        ops::conv2d_nhwc(&x, &w1, &b1, 0).unwrap();
    });
    let h = Tensor::rand(0f32, 1., (256, 24, 24, 4), &Device::Cpu).unwrap();
    time("tanh 24x24x4", n, || {
        ops::tanh(&h).unwrap();
    });
    time("pool 24x24x4", n, || {
        ops::avg_pool2_nhwc(&h).unwrap();
    });
    let h2 = Tensor::rand(0f32, 1., (256, 12, 12, 4), &Device::Cpu).unwrap();
    let w2 = Tensor::rand(0f32, 1., (16, 4, 5, 5), &Device::Cpu).unwrap();
    let b2 = Tensor::zeros(16, candle_core::DType::F32, &Device::Cpu).unwrap();
    time("conv2 fwd", n, || {
        ops::conv2d_nhwc(&h2, &w2, &b2, 0).unwrap();
    });
}
