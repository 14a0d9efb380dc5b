namespace ActionKit.Engine.Tests;

/// <summary>
/// The backends the conformance suite and the training-step comparison run on, by name, one instance each for the
/// whole test run: ILGPU's CPU accelerator runs every group's 256 threads as threads of its own, so it is made
/// (and its kernels compiled) once. Tests that use them belong to <see cref="TestBackendCollection"/>, which runs them
/// one at a time, since a backend's stream and scratch serve one caller at a time.
/// </summary>
public static class TestBackends
{
    static readonly Dictionary<string, IBackend> Instances = [];

    /// <summary>Every backend this machine can run: CUDA only where ILGPU finds an NVIDIA GPU.</summary>
    public static IReadOnlyList<string> All { get; } = HasCuda ? ["cpu", "ilgpu-cpu", "cuda"] : ["cpu", "ilgpu-cpu"];

    public static TheoryData<string> Names => [.. All];

    static bool HasCuda
    {
        get
        {
            using var cuda = IlgpuBackend.TryCuda(out _);
            return cuda is not null;
        }
    }

    /// <summary>The shared backend called <paramref name="name"/>; not to be disposed by the test.</summary>
    public static IBackend Get(string name)
    {
        lock (Instances)
        {
            if (!Instances.TryGetValue(name, out var backend))
                Instances[name] = backend = name switch
                {
                    "cpu" => new CpuBackend(),
                    "ilgpu-cpu" => IlgpuBackend.Simulator(),
                    "cuda" => IlgpuBackend.TryCuda(out string reason) ?? throw new InvalidOperationException(reason),
                    _ => throw new ArgumentException($"Unknown test backend {name}."),
                };
            return backend;
        }
    }
}

/// <summary>The tests that share <see cref="TestBackends"/>: run one at a time.</summary>
[CollectionDefinition(nameof(TestBackendCollection), DisableParallelization = true)]
public sealed class TestBackendCollection;
