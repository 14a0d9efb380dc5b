namespace ActionKit.Pipeline.Stages;

/// <summary>The pipeline's stages in the order they run; a new stage is one class and one entry in <see cref="Default"/>.</summary>
public sealed class StageGraph
{
    public StageGraph(IEnumerable<IStage> stages)
    {
        Stages = [.. stages];
    }

    public static StageGraph Default { get; } = new([new SynthStage(), new ConvertStage(), new BuildStage(), new TrainStage(), new EvalStage(),
        new ExportStage(), new OptimizeStage()]);

    public IReadOnlyList<IStage> Stages { get; }

    /// <summary>The stage called <paramref name="name"/>; throws <see cref="ArgumentException"/> for an unknown name.</summary>
    public IStage this[string name] =>
        Stages.FirstOrDefault(s => s.Name == name)
        ?? throw new ArgumentException($"no stage '{name}'; stages: {string.Join(", ", Stages.Select(s => s.Name))}", nameof(name));
}
