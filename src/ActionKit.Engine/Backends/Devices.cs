namespace ActionKit.Engine;

/// <summary>Chooses the compute backend for a `--device` option: auto, cpu or cuda.</summary>
public static class Devices
{
    public static readonly IReadOnlyList<string> Names = ["auto", "cpu", "cuda"];

    /// <summary>
    /// The backend for <paramref name="device"/>: cpu, the CUDA GPU ILGPU finds (cuda; none is an error, never a
    /// silent fall-back to the CPU), or auto (the GPU when there is one, else the CPU). The backend's name says
    /// which device it runs on. Data-parallel ranks on one machine pass their local rank: rank r takes GPU r (modulo
    /// the GPUs there are).
    /// </summary>
    public static IBackend Create(string device, int localRank = 0) => device.ToLowerInvariant() switch
    {
        "cpu" => new CpuBackend(),
        "cuda" => IlgpuBackend.TryCuda(out string reason, localRank)
            ?? throw new DeviceUnavailableException($"--device=cuda: {reason}; use --device=cpu, or auto to take the GPU only when there is one."),
        "auto" => (IBackend?)IlgpuBackend.TryCuda(out _, localRank) ?? new CpuBackend(),
        _ => throw new ArgumentException($"Unknown device '{device}'; valid: {string.Join(", ", Names)}."),
    };
}

/// <summary>The device asked for is not there (no NVIDIA GPU or no CUDA driver for --device=cuda).</summary>
public sealed class DeviceUnavailableException(string message) : Exception(message);
