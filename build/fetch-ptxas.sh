#!/usr/bin/env bash
# Fetches NVIDIA's ptxas (CUDA 11.8, accepts PTX ISA 7.8, assembles for sm_90) into DIR (default tools/cuda):
# Debian bookworm's non-free nvidia-cuda-toolkit .deb, downloaded with a private apt configuration (the system's
# sources and state are untouched, no root needed) and unpacked with dpkg -x; DIR/usr/bin/ptxas runs on its own.
set -euo pipefail
target="${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/tools/cuda}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/lists/partial" "$work/cache/archives/partial" "$work/state"
echo "deb http://deb.debian.org/debian bookworm main contrib non-free" > "$work/sources.list"
apt=(-o "Dir::Etc::sourcelist=$work/sources.list" -o Dir::Etc::sourceparts=- -o "Dir::State::Lists=$work/lists"
     -o "Dir::State=$work/state" -o "Dir::Cache=$work/cache" -o Debug::NoLocking=1 -o APT::Sandbox::User="$(id -un)")
apt-get -qq "${apt[@]}" update
(cd "$work" && apt-get -qq "${apt[@]}" download nvidia-cuda-toolkit)
mkdir -p "$target"
dpkg -x "$work"/nvidia-cuda-toolkit_*.deb "$work/unpacked"
# Only the assembler is kept (the package also holds nvcc, nvlink and friends).
mkdir -p "$target/usr/bin"
cp "$work/unpacked/usr/bin/ptxas" "$target/usr/bin/ptxas"
"$target/usr/bin/ptxas" --version | tail -1
