namespace ActionKit.Engine;

/// <summary>Chooses the compute backend for a `--device` option: auto, cpu or cuda.</summary>
public static class Devices
{
    public static readonly IReadOnlyList<string> Names = ["auto", "cpu", "cuda"];

    /// <summary>
    /// The backend for <paramref name="device"/>. This build has the CPU backend; the CUDA backend (ILGPU kernels)
    /// plugs into <see cref="IBackend"/> in the next release, so `cuda` fails with a clear message and `auto` picks the CPU.
    /// </summary>
    public static IBackend Create(string device) => device.ToLowerInvariant() switch
    {
        "auto" or "cpu" => new CpuBackend(),
        "cuda" => throw new NotSupportedException("--device=cuda: this build of ActionKit has no CUDA backend yet (it arrives with the ILGPU kernels); use --device=cpu or auto."),
        _ => throw new ArgumentException($"Unknown device '{device}'; valid: {string.Join(", ", Names)}."),
    };
}
