using System.Diagnostics;
using ActionKit.Pipeline;
using ActionKit.Pipeline.Caching;
using ActionKit.Pipeline.Distributed;
using ActionKit.Pipeline.Stages;
using ActionKit.Pipeline.Training;
using Spectre.Console;
using Spectre.Console.Cli;

namespace ActionKit.Cli.Commands;

/// <summary>
/// A verb that runs one pipeline stage through the stage cache: it says the stage is up to date, or why it runs and
/// then runs it with progress. A new stage verb is a subclass naming its stage.
/// </summary>
public abstract class StageCommand<TSettings>(IAnsiConsole console) : Command<TSettings>
    where TSettings : PipelineSettings
{
    protected IAnsiConsole Console => console;

    protected abstract string StageName { get; }

    /// <summary>The processes that run the stage together: one, unless the verb trains over MPI ranks.</summary>
    protected virtual ICommunicator Ranks => SingleProcess.Instance;

    /// <summary>Prints what the stage's outputs say, after it ran or was found up to date.</summary>
    protected virtual void Summarize(PipelineContext context)
    {
    }

    /// <summary>Why the stage does not apply in <paramref name="context"/> (it is then skipped), or null.</summary>
    protected virtual string? SkipReason(PipelineContext context) => null;

    public override int Execute(CommandContext commandContext, TSettings settings, CancellationToken cancellationToken)
    {
        var context = settings.CreateContext() with { Ranks = Ranks };
        var runner = new StageRunner(StageGraph.Default, context);
        if (Ranks.Rank > 0)
            return RunWithRankZero(context, runner, cancellationToken);
        if (SkipReason(context) is { } skip)
        {
            console.MarkupLineInterpolated($"[grey]{StageName}: skipped, {skip}[/]");
            return 0;
        }
        var plan = runner.Plan(StageGraph.Default[StageName], settings.Force);
        Ranks.Broadcast([plan.UpToDate ? 0 : 1]);
        if (plan.UpToDate)
        {
            console.MarkupLineInterpolated($"[green]{StageName}[/]: up to date (key {plan.Fingerprint.Key[..12]})");
            Summarize(context);
            return 0;
        }
        console.MarkupLineInterpolated($"[yellow]{StageName}[/]: running ({plan.Reason})");
        var watch = Stopwatch.StartNew();
        ProgressDisplay.Run(console, progress => runner.Run(plan, progress, cancellationToken));
        console.MarkupLineInterpolated($"[green]{StageName}[/]: done in {watch.Elapsed.TotalSeconds:F1} s (key {plan.Fingerprint.Key[..12]})");
        Summarize(context);
        return 0;
    }

    // Ranks 1..N-1: rank 0 alone plans the stage (reading the cache), owns its work folder, moves the outputs into
    // place and writes the lock; it says whether the stage runs, and the other ranks then run it in its work folder.
    int RunWithRankZero(PipelineContext context, StageRunner runner, CancellationToken cancellationToken)
    {
        double[] runs = [0];
        Ranks.Broadcast(runs);
        if (runs[0] == 1)
        {
            var stage = StageGraph.Default[StageName];
            stage.Run(context, runner.WorkFolder(stage), null, cancellationToken);
        }
        return 0;
    }
}

/// <summary><c>actionkit synth</c>: the synthetic dataset, when the data root is the default synthetic one.</summary>
public sealed class SynthCommand(IAnsiConsole console) : StageCommand<PipelineSettings>(console)
{
    protected override string StageName => "synth";

    protected override string? SkipReason(PipelineContext context) => context.UsesSyntheticData
        ? null
        : $"the data root {context.DisplayPath(context.DataRoot)} is a real dataset (Synth only writes data/synth-hmdb51)";
}

/// <summary><c>actionkit convert</c>: HMDB51 split to CVAT folders.</summary>
public sealed class ConvertCommand(IAnsiConsole console) : StageCommand<PipelineSettings>(console)
{
    protected override string StageName => "convert";
}

/// <summary><c>actionkit build</c>: the workspace.</summary>
public sealed class BuildCommand(IAnsiConsole console) : StageCommand<PipelineSettings>(console)
{
    protected override string StageName => "build";
}

/// <summary><c>actionkit train</c>: train the workspace's model (models/, metrics.jsonl, curves.png).</summary>
public sealed class TrainCommand(IAnsiConsole console, ICommunicator ranks) : StageCommand<PipelineSettings>(console)
{
    protected override string StageName => "train";

    protected override ICommunicator Ranks => ranks;

    protected override void Summarize(PipelineContext context)
    {
        string path = Path.Combine(context.Workspace, EpochMetrics.FileName);
        var epochs = File.ReadLines(path).Where(line => line.Length > 0).Select(EpochMetrics.FromJsonLine).ToList();
        if (epochs.Count == 0)
            return;
        string import = Path.Combine(context.Workspace, Trainer.ModelsFolder, PretrainedCheckpoint.ReportFileName);
        if (File.Exists(import))
            ImportTable.Print(Console, PretrainedCheckpoint.LoadReport(import), context);
        var best = epochs.MaxBy(e => e.ValTop1)!;
        Console.MarkupLineInterpolated($"  {epochs.Count} epochs; best val top-1 {best.ValTop1:F4} (mean class {best.ValMeanClassAccuracy:F4}) at epoch {best.Epoch}; {context.DisplayPath(Path.Combine(context.Workspace, Trainer.ModelsFolder, TrainedModel.WeightsFileName))}");
    }
}
