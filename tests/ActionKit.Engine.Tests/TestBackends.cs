namespace ActionKit.Engine.Tests;

/// <summary>The backends the conformance suite and the training-step comparison run on, by name.</summary>
public static class TestBackends
{
    /// <summary>Every backend this machine can run: CUDA only where ILGPU finds an NVIDIA GPU.</summary>
    public static IReadOnlyList<string> All { get; } = HasCuda ? ["cpu", "ilgpu-cpu", "cuda"] : ["cpu", "ilgpu-cpu"];

    static bool HasCuda
    {
        get
        {
            using var cuda = IlgpuBackend.TryCuda(out _);
            return cuda is not null;
        }
    }

    public static TheoryData<string> Names => [.. All];

    public static IBackend Create(string name) => name switch
    {
        "cpu" => new CpuBackend(),
        "ilgpu-cpu" => IlgpuBackend.Simulator(),
        "cuda" => IlgpuBackend.TryCuda(out string reason) ?? throw new InvalidOperationException(reason),
        _ => throw new ArgumentException($"Unknown test backend {name}."),
    };
}
