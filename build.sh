#!/usr/bin/env bash
# Bootstrap, then run the Cake task graph:  ./build.sh --target=Build|Synth|Convert|Test|Bench [--option=value ...]
# Installs FFmpeg when it is missing, and MPICH for --ranks and the tests (as root, with apt-get), fetches NVIDIA's
# ptxas into tools/cuda when missing, restores the pinned .NET tools, runs build/build.cake.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$root"

if ! command -v ffmpeg >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "Installing FFmpeg (apt-get)..."
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ffmpeg >/dev/null
  else
    echo "warning: ffmpeg is not installed; video decoding and --source=videos will fail (install it: apt-get install ffmpeg)." >&2
  fi
fi

# NVIDIA's ptxas checks the GPU kernels' PTX (tests, --target=Ptx); fetched once into tools/cuda (git-ignored).
if [ -z "${ACTIONKIT_PTXAS:-}" ] && [ ! -x "$root/tools/cuda/usr/bin/ptxas" ]; then
  if command -v apt-get >/dev/null 2>&1 && command -v dpkg >/dev/null 2>&1; then
    echo "Fetching NVIDIA ptxas (Debian non-free nvidia-cuda-toolkit 11.8) into tools/cuda..."
    "$root/build/fetch-ptxas.sh" "$root/tools/cuda" || echo "warning: fetching ptxas failed; the PTX check will fail until it is in tools/cuda/usr/bin or ACTIONKIT_PTXAS names it." >&2
  else
    echo "warning: ptxas is missing and this system has no apt-get to fetch it; set ACTIONKIT_PTXAS to a CUDA 11.8+ ptxas." >&2
  fi
fi

# MPICH (mpiexec.mpich, libmpich.so.12) for training on several ranks (--ranks=N) and for the tests that run it.
needs_mpich=false
for argument in "$@"; do
  case "${argument,,}" in --ranks*|--target=test) needs_mpich=true ;; esac
done
if [ "$needs_mpich" = true ] && ! command -v mpiexec.mpich >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "Installing MPICH (apt-get)..."
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mpich libmpich-dev >/dev/null
  else
    echo "warning: MPICH is not installed; --ranks and the MPI tests will fail (install it: apt-get install mpich libmpich-dev)." >&2
  fi
fi

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
# Cake compiles the script once and reuses it (5.7 s -> 1.9 s to start); its cache lives in tools/ (git-ignored).
export CAKE_SETTINGS_ENABLESCRIPTCACHE=true CAKE_PATHS_TOOLS="$root/tools"

# Restoring the tools is skipped while the manifest is older than the stamp of the last restore.
stamp="$root/tools/.tool-restore-stamp"
if [ ! -f "$stamp" ] || [ .config/dotnet-tools.json -nt "$stamp" ]; then
  dotnet tool restore >/dev/null
  mkdir -p "$root/tools" && touch "$stamp"
fi
exec dotnet tool run dotnet-cake build/build.cake "$@"
