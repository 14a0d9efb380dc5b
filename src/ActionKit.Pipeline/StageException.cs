namespace ActionKit.Pipeline;

/// <summary>A stage cannot run or did not finish its job: a missing input, an upstream stage that never ran, a missing output.</summary>
public sealed class StageException(string stage, string problem) : Exception($"{stage}: {problem}")
{
    public string Stage { get; } = stage;
}
