using System.Diagnostics;
using ActionKit.Pipeline;
using ActionKit.Pipeline.Caching;
using ActionKit.Pipeline.Stages;
using Spectre.Console;
using Spectre.Console.Cli;

namespace ActionKit.Cli.Commands;

/// <summary>
/// A verb that runs one pipeline stage through the stage cache: it says the stage is up to date, or why it runs and
/// then runs it with progress. A new stage verb is a subclass naming its stage.
/// </summary>
public abstract class StageCommand(IAnsiConsole console) : Command<PipelineSettings>
{
    protected abstract string StageName { get; }

    /// <summary>Why the stage does not apply in <paramref name="context"/> (it is then skipped), or null.</summary>
    protected virtual string? SkipReason(PipelineContext context) => null;

    public override int Execute(CommandContext commandContext, PipelineSettings settings, CancellationToken cancellationToken)
    {
        var context = settings.CreateContext();
        if (SkipReason(context) is { } skip)
        {
            console.MarkupLineInterpolated($"[grey]{StageName}: skipped, {skip}[/]");
            return 0;
        }
        var runner = new StageRunner(StageGraph.Default, context);
        var plan = runner.Plan(StageGraph.Default[StageName], settings.Force);
        if (plan.UpToDate)
        {
            console.MarkupLineInterpolated($"[green]{StageName}[/]: up to date (key {plan.Fingerprint.Key[..12]})");
            return 0;
        }
        console.MarkupLineInterpolated($"[yellow]{StageName}[/]: running ({plan.Reason})");
        var watch = Stopwatch.StartNew();
        ProgressDisplay.Run(console, progress => runner.Run(plan, progress, cancellationToken));
        console.MarkupLineInterpolated($"[green]{StageName}[/]: done in {watch.Elapsed.TotalSeconds:F1} s (key {plan.Fingerprint.Key[..12]})");
        return 0;
    }
}

/// <summary><c>actionkit synth</c>: the synthetic dataset, when the data root is the default synthetic one.</summary>
public sealed class SynthCommand(IAnsiConsole console) : StageCommand(console)
{
    protected override string StageName => "synth";

    protected override string? SkipReason(PipelineContext context) => context.UsesSyntheticData
        ? null
        : $"the data root {context.DisplayPath(context.DataRoot)} is a real dataset (Synth only writes data/synth-hmdb51)";
}

/// <summary><c>actionkit convert</c>: HMDB51 split to CVAT folders.</summary>
public sealed class ConvertCommand(IAnsiConsole console) : StageCommand(console)
{
    protected override string StageName => "convert";
}

/// <summary><c>actionkit build</c>: the workspace.</summary>
public sealed class BuildCommand(IAnsiConsole console) : StageCommand(console)
{
    protected override string StageName => "build";
}
