namespace ActionKit.Engine.Tests;

/// <summary>The backends the conformance suite and the training-step comparison run on, by name.</summary>
public static class TestBackends
{
    /// <summary>Every backend this machine can run.</summary>
    public static IReadOnlyList<string> All { get; } = ["cpu"];

    public static TheoryData<string> Names => [.. All];

    public static IBackend Create(string name) => name switch
    {
        "cpu" => new CpuBackend(),
        _ => throw new ArgumentException($"Unknown test backend {name}."),
    };
}
