using ActionKit.Data;
using ActionKit.Pipeline.Stages;

namespace ActionKit.Pipeline.Tests;

/// <summary>
/// Two small stages for cache tests: "first" copies input/a.txt (and the folder input/frames) into out/first with
/// synth.seed appended; "second" reads first's output and data.split and writes out/second.txt.
/// </summary>
internal sealed class FirstStage : IStage
{
    public int Runs { get; private set; }

    /// <summary>Called in the middle of a run, after part of the output is written: lets a test fail or cancel it there.</summary>
    public Action<string>? MidRun { get; set; }

    /// <summary>Non-file content the stage declares it reads (null: none).</summary>
    public Dictionary<string, string>? Contents { get; set; }

    /// <summary>The code units and packages the stage declares it runs.</summary>
    public List<string> Code { get; set; } = [];
    public List<string> Packages { get; set; } = [];

    public string Name => "first";

    public StageDeclaration Declare(PipelineContext context) => new(
        Home: Path.Combine(context.Root, "out"),
        Outputs: ["first"],
        Inputs: [context.FullPath("input/a.txt"), context.FullPath("input/frames")],
        Params: ["synth.seed"],
        Upstream: [],
        Code: Code,
        Packages: Packages,
        Contents: Contents);

    public void Run(PipelineContext context, string workFolder, IProgress<WorkProgress>? progress, CancellationToken cancellationToken)
    {
        Runs++;
        string output = Directory.CreateDirectory(Path.Combine(workFolder, "first")).FullName;
        File.WriteAllText(Path.Combine(output, "part1.txt"), File.ReadAllText(context.FullPath("input/a.txt")));
        MidRun?.Invoke(output);
        cancellationToken.ThrowIfCancellationRequested();
        File.WriteAllText(Path.Combine(output, "part2.txt"), $"seed {context.Params.Synth.Seed}");
        progress?.Report(new WorkProgress("first", 1, 1));
    }
}

internal sealed class SecondStage : IStage
{
    public int Runs { get; private set; }

    public string Name => "second";

    public StageDeclaration Declare(PipelineContext context) => new(
        Home: Path.Combine(context.Root, "out"),
        Outputs: ["second.txt"],
        Inputs: [context.FullPath("out/first")],
        Params: ["data.split"],
        Upstream: ["first"],
        Code: [],
        Packages: []);

    public void Run(PipelineContext context, string workFolder, IProgress<WorkProgress>? progress, CancellationToken cancellationToken)
    {
        Runs++;
        string first = File.ReadAllText(context.FullPath("out/first/part2.txt"));
        File.WriteAllText(Path.Combine(workFolder, "second.txt"), $"{first} split {context.Params.Data.Split}");
    }
}
