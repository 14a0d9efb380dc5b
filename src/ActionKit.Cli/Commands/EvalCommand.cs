using System.ComponentModel;
using ActionKit.Pipeline;
using ActionKit.Pipeline.Evaluation;
using ActionKit.Pipeline.Stages;
using Spectre.Console;
using Spectre.Console.Cli;

namespace ActionKit.Cli.Commands;

/// <summary>The eval verb's options: the pipeline's, plus the reference's by-hand form (weights, test root, output).</summary>
public sealed class EvalSettings : PipelineSettings
{
    [CommandOption("--load-weights <FILE>")]
    [Description("Model to evaluate: weights.safetensors, model.onnx or openvino.xml (with label_schema.json and template.yaml beside it). Given: runs outside the stage cache.")]
    public string? LoadWeights { get; init; }

    [CommandOption("--test-data-roots <DIR>")]
    [Description("CVAT folder of test videos. Default: the workspace's test root.")]
    public string? TestDataRoots { get; init; }

    [CommandOption("--save-performance <FILE>")]
    [Description("Where to write the report. Default: performance.json in the workspace.")]
    public string? SavePerformance { get; init; }

    [CommandOption("--reverse-time")]
    [Description("Reverse every clip's frames (a by-hand check that the model uses motion).")]
    public bool ReverseTime { get; init; }
}

/// <summary>
/// <c>actionkit eval</c>: like <c>otx eval</c>. Without --load-weights, --test-data-roots, --save-performance or
/// --reverse-time it runs the cached Eval stage on the workspace; with any of them, it evaluates as asked.
/// </summary>
public sealed class EvalCommand(IAnsiConsole console) : StageCommand<EvalSettings>(console)
{
    protected override string StageName => "eval";

    public override int Execute(CommandContext commandContext, EvalSettings settings, CancellationToken cancellationToken)
    {
        if (settings.LoadWeights is null && settings.TestDataRoots is null && settings.SavePerformance is null && !settings.ReverseTime)
            return base.Execute(commandContext, settings, cancellationToken);
        var context = settings.CreateContext();
        // The workspace is only needed for what the command line leaves out.
        string testRoot = settings.TestDataRoots
            ?? Pipeline.Workspace.WorkspaceData.Load(Path.Combine(context.Workspace, Pipeline.Workspace.WorkspaceData.FileName)).Test.Root;
        var request = new EvaluationRequest(
            context.FullPath(settings.LoadWeights ?? Path.Combine(context.Workspace, "models", "weights.safetensors")),
            context.FullPath(testRoot),
            context.Params.Device.ToString().ToLowerInvariant(),
            context.Params.Eval.Clips,
            context.Params.Eval.Crops,
            settings.ReverseTime,
            context.Workers);
        PerformanceReport? evaluated = null;
        ProgressDisplay.Run(Console, progress => evaluated = Evaluator.Evaluate(request, progress, cancellationToken));
        var report = evaluated!;
        string output = context.FullPath(settings.SavePerformance ?? Path.Combine(context.Workspace, EvalStage.ReportFileName));
        EvalStage.Save(report, output);
        Print(report, context.DisplayPath(output));
        return 0;
    }

    protected override void Summarize(PipelineContext context)
    {
        string path = Path.Combine(context.Workspace, EvalStage.ReportFileName);
        Print(PerformanceReport.Load(path), context.DisplayPath(path));
    }

    void Print(PerformanceReport report, string path)
    {
        Console.MarkupLineInterpolated($"Performance(score: {report.Accuracy:F4})");
        var table = new Table().AddColumns("metric", "value");
        table.AddRow("Accuracy (frame-wise)", $"{report.Accuracy:F4}");
        table.AddRow("video top-1", $"{report.VideoTop1:F4}");
        table.AddRow("video top-5", $"{report.VideoTop5:F4}");
        table.AddRow("mean class accuracy", $"{report.MeanClassAccuracy:F4}");
        table.AddRow("videos / frames", $"{report.Videos} / {report.Frames}");
        table.AddRow("runtime", Markup.Escape(report.Runtime));
        if (report.TimeReversal is { } reversal)
            table.AddRow("time reversed: accuracy / as partner", $"{reversal.AccuracyOnOriginalLabels:F4} / {reversal.PredictedAsPartner:F4} ({reversal.Videos} videos)");
        Console.Write(table);
        Console.MarkupLineInterpolated($"  report: {path}");
    }
}
