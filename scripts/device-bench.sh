#!/usr/bin/env bash
# ActionKit's X3D on the GPU against PyTorch on the same GPU, in one run: training and inference clips/s of X3D-XS
# (depths [3, 5, 11, 7], 51 classes, batch 16) at 8x224x224 and 13x160x160, and the depthwise 3x3x3 kernels alone
# at X3D-XS's stage-2 shape [16, 8, 28, 28, 108], each with the ratio ActionKit / PyTorch.
#
#   scripts/device-bench.sh prepare     here (with .NET): packs the benchmark and the .NET runtime into .devrt/
#                                       (../shared/device/pack.sh) with a copy of ../shared/bench/torch_x3d.py
#   scripts/device-bench.sh run         on the GPU machine (no .NET): the device tool's run with carry [".devrt"]
#   scripts/device-bench.sh smoke       here: the run's whole path on the CPU at a tiny size (the packed runtime and
#                                       benchmark, PyTorch where it is installed), to test the packing
#
# The table goes to stdout and, with the raw JSON, to $OUT/device-bench.txt when $OUT is set (the device tool's
# folder of files that come back).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
mode=${1:-}

prepare() {
  local pack torch
  pack=$(ls "$root"/../shared/device/pack.sh /work/shared/device/pack.sh 2>/dev/null | head -1 || true)
  torch=$(ls "$root"/../shared/bench/torch_x3d.py /work/shared/bench/torch_x3d.py 2>/dev/null | head -1 || true)
  [[ -n $pack && -n $torch ]] || { echo "prepare: ../shared/device/pack.sh and ../shared/bench/torch_x3d.py are needed beside the checkout" >&2; exit 6; }
  bash "$pack" tests/ActionKit.Bench
  cp "$torch" .devrt/torch_x3d.py
  echo "ready: on the GPU machine run  scripts/device-bench.sh run  with carry [\".devrt\"]"
}

# unpack DIR: the .NET runtime and the benchmark from .devrt/ into DIR, dotnet on the PATH.
unpack() {
  [[ -f .devrt/dotnet-rt.tar.xz && -f .devrt/ActionKit.Bench.app.tar.xz ]] \
    || { echo "run: .devrt/ is missing its packs; run scripts/device-bench.sh prepare first and carry .devrt" >&2; exit 6; }
  mkdir -p "$1/dn" "$1/app"
  tar -xJf .devrt/dotnet-rt.tar.xz -C "$1/dn"
  tar -xJf .devrt/ActionKit.Bench.app.tar.xz -C "$1/app"
  export DOTNET_ROOT=$1/dn PATH=$1/dn:$PATH
  app=$1/app
}

# ILGPU opens the driver as libcuda.so; some drivers ship only libcuda.so.1.
link_cuda() {
  local cuda
  cuda=$(ldconfig -p 2>/dev/null | awk '/libcuda.so.1 /{print $NF; exit}')
  if [[ -n $cuda ]]; then
    mkdir -p /tmp/cu && ln -sf "$cuda" /tmp/cu/libcuda.so
    export LD_LIBRARY_PATH=/tmp/cu:${LD_LIBRARY_PATH:-}
  fi
}

# bench DEVICE ARTIFACTS ARGS...: ActionKit's benchmark, its JSON report in ARTIFACTS/latest.json.
bench() {
  local device=$1 artifacts=$2
  shift 2
  dotnet "$app/ActionKit.Bench/ActionKit.Bench.dll" --device "$device" --artifacts "$artifacts" "$@" >&2
}

run() {
  local device=$1 frames_sizes=$2 batch=$3 work
  work=$(mktemp -d)
  unpack "$work"
  if [[ $device == cuda ]]; then link_cuda; fi
  bench "$device" "$work/x3d" --only x3d --x3d "$frames_sizes" --batch "$batch" --classes 51
  # On the CPU (the smoke test) the kernels group is the CPU one, minutes at its fixed shape: skipped.
  if [[ $device == cuda ]]; then
    bench "$device" "$work/kernels" --only kernels
  else
    echo '{"rows": []}' > "$work/kernels.json" && mkdir -p "$work/kernels" && mv "$work/kernels.json" "$work/kernels/latest.json"
  fi
  : > "$work/torch.jsonl"
  if python3 -c 'import torch' 2>/dev/null; then
    local torch_x3d=.devrt/torch_x3d.py
    [[ -f $torch_x3d ]] || torch_x3d=../shared/bench/torch_x3d.py
    for fs in ${frames_sizes//,/ }; do
      python3 "$torch_x3d" --device "$device" --frames "${fs%x*}" --size "${fs#*x}" --batch "$batch" --classes 51 \
        --steps "$([[ $device == cuda ]] && echo 20 || echo 2)" --warmup "$([[ $device == cuda ]] && echo 5 || echo 1)" >> "$work/torch.jsonl"
    done
    if [[ $device == cuda ]]; then python3 scripts/torch_depthwise.py --device cuda >> "$work/torch.jsonl"; fi
  else
    echo "PyTorch is not installed here: its columns stay empty" >&2
  fi
  python3 - "$work" "$batch" <<'PY' | tee "${OUT:-$work}/device-bench.txt"
import json, sys, pathlib
work, batch = pathlib.Path(sys.argv[1]), int(sys.argv[2])
x3d = json.loads((work / "x3d/latest.json").read_text())
kernels = json.loads((work / "kernels/latest.json").read_text())
torch = [json.loads(line) for line in (work / "torch.jsonl").read_text().splitlines() if line.strip()]
print(f"device: ActionKit {x3d['machine']['device']}; PyTorch {torch[0]['device'] + ' ' + torch[0]['torch'] if torch else 'not run'}")
print(f"{'what':58} {'ActionKit':>10} {'PyTorch':>10} {'ratio':>7}")
def line(what, ours, theirs, unit):
    ratio = f"{ours / theirs:.2f}x" if ours and theirs else ""
    print(f"{what + ' (' + unit + ')':58} {ours or float('nan'):10.2f} {theirs or float('nan'):10.2f} {ratio:>7}")
rows = {r["Case"]: r["Value"] for r in x3d["rows"]}
shapes = sorted({c.split(" ")[1] for c in rows if c.startswith("X3D-XS")}, key=lambda s: [int(v) for v in s.split("x")])
for shape in shapes:
    f, s, _ = (int(v) for v in shape.split("x"))
    peer = next((t for t in torch if t.get("frames") == f and t.get("size") == s), {})
    line(f"X3D-XS {shape} train, batch {batch}", rows.get(f"X3D-XS {shape} train step, batch {batch}"), peer.get("train_clips_per_s"), "clips/s")
    line(f"X3D-XS {shape} inference, batch {batch}", rows.get(f"X3D-XS {shape} inference, batch {batch}"), peer.get("infer_clips_per_s"), "clips/s")
depthwise = [t for t in torch if t.get("op") == "depthwise 3x3x3"]
best = lambda key: max((t[key] for t in depthwise), default=None)
for r in kernels["rows"]:
    theirs = None
    if r["Group"].startswith("depthwise"):
        theirs = best("forward_gflops" if r["Case"] == "forward" else "forward_backward_gflops")
    line(f"{r['Group']} {r['Case']}", r["Value"], theirs, r["Unit"])
    if r.get("PeerValue"):
        print(f"{'  ' + (r.get('Peer') or 'peer'):58} {r['PeerValue']:10.2f}")
print("PyTorch depthwise: the faster of contiguous and channels_last_3d; raw JSON below")
for t in torch:
    print(json.dumps(t))
PY
  rm -rf "$work"
}

case $mode in
  prepare) prepare ;;
  run) run cuda 8x224,13x160 16 ;;
  smoke) run cpu 4x32 2 ;;
  *) sed -n '2,14p' "$0"; exit 2 ;;
esac
