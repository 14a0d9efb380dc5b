#!/usr/bin/env pwsh
# Bootstrap, then run the Cake task graph:  ./build.ps1 --target=Build|Synth|Convert|Test|Bench [--option=value ...]
# The same steps as build.sh, for PowerShell 7 (also as `dotnet pwsh build.ps1`, pinned in .config/dotnet-tools.json).
$ErrorActionPreference = 'Stop'
$root = $PSScriptRoot
Set-Location $root

if (-not (Get-Command ffmpeg -ErrorAction SilentlyContinue)) {
    $isRoot = $IsLinux -and ((& id -u) -eq '0')
    if ($isRoot -and (Get-Command apt-get -ErrorAction SilentlyContinue)) {
        Write-Host 'Installing FFmpeg (apt-get)...'
        $env:DEBIAN_FRONTEND = 'noninteractive'
        & apt-get update -qq
        if ($LASTEXITCODE -eq 0) { & apt-get install -y -qq ffmpeg | Out-Null }
        if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
    }
    else {
        Write-Warning 'ffmpeg is not installed; video decoding and --source=videos will fail (install FFmpeg and put it on PATH).'
    }
}

# NVIDIA's ptxas checks the GPU kernels' PTX (tests, --target=Ptx); fetched once into tools/cuda (git-ignored).
$ptxas = Join-Path $root 'tools/cuda/usr/bin/ptxas'
if (-not $env:ACTIONKIT_PTXAS -and -not [IO.File]::Exists($ptxas)) {
    if ($IsLinux -and (Get-Command apt-get -ErrorAction SilentlyContinue) -and (Get-Command dpkg -ErrorAction SilentlyContinue)) {
        Write-Host 'Fetching NVIDIA ptxas (Debian non-free nvidia-cuda-toolkit 11.8) into tools/cuda...'
        & bash (Join-Path $root 'build/fetch-ptxas.sh') (Join-Path $root 'tools/cuda')
        if ($LASTEXITCODE -ne 0) { Write-Warning 'Fetching ptxas failed; the PTX check will fail until it is in tools/cuda/usr/bin or ACTIONKIT_PTXAS names it.' }
    }
    else {
        Write-Warning 'ptxas is missing and cannot be fetched here; set ACTIONKIT_PTXAS to a CUDA 11.8+ ptxas.'
    }
}

# MPICH (mpiexec.mpich, libmpich.so.12) for training on several ranks (--ranks=N) and for the tests that run it.
$needsMpich = @($args | Where-Object { $_ -like '--ranks*' -or $_ -eq '--target=Test' }).Count -gt 0
if ($needsMpich -and -not (Get-Command mpiexec.mpich -ErrorAction SilentlyContinue)) {
    $isRoot = $IsLinux -and ((& id -u) -eq '0')
    if ($isRoot -and (Get-Command apt-get -ErrorAction SilentlyContinue)) {
        Write-Host 'Installing MPICH (apt-get)...'
        $env:DEBIAN_FRONTEND = 'noninteractive'
        & apt-get update -qq
        if ($LASTEXITCODE -eq 0) { & apt-get install -y -qq mpich libmpich-dev | Out-Null }
        if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
    }
    else {
        Write-Warning 'MPICH is not installed; --ranks and the MPI tests will fail (install mpich and libmpich-dev).'
    }
}

$env:DOTNET_CLI_TELEMETRY_OPTOUT = '1'
$env:DOTNET_NOLOGO = '1'
$env:DOTNET_SKIP_FIRST_TIME_EXPERIENCE = '1'
# Cake compiles the script once and reuses it; its cache lives in tools/ (git-ignored).
$env:CAKE_SETTINGS_ENABLESCRIPTCACHE = 'true'
$env:CAKE_PATHS_TOOLS = Join-Path $root 'tools'

# Restoring the tools is skipped while the manifest is older than the stamp of the last restore.
$stamp = Join-Path $root 'tools/.tool-restore-stamp'
$manifest = Join-Path $root '.config/dotnet-tools.json'
if (-not [IO.File]::Exists($stamp) -or [IO.File]::GetLastWriteTimeUtc($manifest) -gt [IO.File]::GetLastWriteTimeUtc($stamp)) {
    & dotnet tool restore | Out-Null
    if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
    New-Item -ItemType Directory -Force (Join-Path $root 'tools') | Out-Null
    Set-Content -Path $stamp -Value (Get-Date -AsUTC -Format o)
}
& dotnet tool run dotnet-cake build/build.cake @args
exit $LASTEXITCODE
