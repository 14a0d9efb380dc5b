using System.ComponentModel;
using ActionKit.Pipeline;
using ActionKit.Pipeline.Evaluation;
using ActionKit.Pipeline.Export;
using ActionKit.Pipeline.Stages;
using ActionKit.Pipeline.Workspace;
using Spectre.Console;
using Spectre.Console.Cli;

namespace ActionKit.Cli.Commands;

/// <summary>The export and optimize verbs' options: the pipeline's, plus the reference's by-hand form.</summary>
public sealed class ExportSettings : PipelineSettings
{
    [CommandOption("--load-weights <FILE>")]
    [Description("export: weights.safetensors; optimize: an exported openvino.xml (with label_schema.json and template.yaml beside it). Given: runs outside the stage cache.")]
    public string? LoadWeights { get; init; }

    [CommandOption("--save-model-to <DIR>")]
    [Description("Folder to write the models into. Default: the workspace's exported/ or optimized/.")]
    public string? SaveModelTo { get; init; }

    [CommandOption("--train-data-roots <DIR>")]
    [Description("optimize: CVAT folder of calibration videos. Default: the workspace's training root.")]
    public string? TrainDataRoots { get; init; }

    [CommandOption("--test-data-roots <DIR>")]
    [Description("CVAT folder of the videos the models are checked and evaluated on. Default: the workspace's test root.")]
    public string? TestDataRoots { get; init; }

    internal bool ByHand => LoadWeights is not null || SaveModelTo is not null || TrainDataRoots is not null || TestDataRoots is not null;
}

/// <summary>
/// <c>actionkit export</c>: like <c>otx export</c>. Runs the cached Export stage, or with --load-weights / --save-model-to
/// exports the given weights to model.onnx and openvino.xml + .bin, checks them against the engine and evaluates them.
/// </summary>
public sealed class ExportCommand(IAnsiConsole console) : StageCommand<ExportSettings>(console)
{
    protected override string StageName => "export";

    public override int Execute(CommandContext commandContext, ExportSettings settings, CancellationToken cancellationToken)
    {
        if (!settings.ByHand)
            return base.Execute(commandContext, settings, cancellationToken);
        var context = settings.CreateContext();
        var roots = new ModelRoots(context, settings);
        string folder = context.FullPath(settings.SaveModelTo ?? Path.Combine(context.Workspace, ExportStage.Folder));
        string weights = context.FullPath(settings.LoadWeights ?? Path.Combine(context.Workspace, "models", "weights.safetensors"));
        ProgressDisplay.Run(Console, progress =>
        {
            var report = ModelExporter.Export(weights, folder, roots.Test, context.Workers, cancellationToken);
            ExportStage.EvaluateModels(context, folder, folder, [report.Onnx, report.OpenVino], roots.Test, progress, cancellationToken);
        });
        PrintModels(Console, context, folder, [ModelExporter.OnnxFileName, ModelExporter.IrFileName]);
        return 0;
    }

    protected override void Summarize(PipelineContext context) =>
        PrintModels(Console, context, Path.Combine(context.Workspace, ExportStage.Folder), [ModelExporter.OnnxFileName, ModelExporter.IrFileName]);

    /// <summary>Each model's file, runtime and scores, from the reports beside it.</summary>
    internal static void PrintModels(IAnsiConsole console, PipelineContext context, string folder, IReadOnlyList<string> files)
    {
        var table = new Table().AddColumns("model", "runtime", "Accuracy (frame-wise)", "video top-1", "mean class");
        foreach (var file in files)
        {
            var report = PerformanceReport.Load(Path.Combine(folder, ExportStage.ReportFileName(file)));
            table.AddRow(Markup.Escape(context.DisplayPath(Path.Combine(folder, file))), Markup.Escape(report.Runtime),
                $"{report.Accuracy:F4}", $"{report.VideoTop1:F4}", $"{report.MeanClassAccuracy:F4}");
        }
        console.Write(table);
        foreach (var file in files)
            console.MarkupLineInterpolated($"Performance(score: {PerformanceReport.Load(Path.Combine(folder, ExportStage.ReportFileName(file))).Accuracy:F4}) {file}");
    }
}

/// <summary>
/// <c>actionkit optimize</c>: like <c>otx optimize</c>. Runs the cached Optimize stage, or with --load-weights
/// (an exported openvino.xml) / --save-model-to quantizes as asked: model.int8.onnx (QDQ) and openvino.xml (FakeQuantize).
/// </summary>
public sealed class OptimizeCommand(IAnsiConsole console) : StageCommand<ExportSettings>(console)
{
    protected override string StageName => "optimize";

    public override int Execute(CommandContext commandContext, ExportSettings settings, CancellationToken cancellationToken)
    {
        if (!settings.ByHand)
            return base.Execute(commandContext, settings, cancellationToken);
        var context = settings.CreateContext();
        var roots = new ModelRoots(context, settings);
        string folder = context.FullPath(settings.SaveModelTo ?? Path.Combine(context.Workspace, OptimizeStage.Folder));
        string model = context.FullPath(settings.LoadWeights ?? Path.Combine(context.Workspace, ExportStage.Folder, ModelExporter.IrFileName));
        ProgressDisplay.Run(Console, progress =>
        {
            var report = ModelExporter.Optimize(model, folder, roots.Train, roots.Test, context.Params.Optimize, context.Workers, progress, cancellationToken);
            ExportStage.EvaluateModels(context, folder, folder, [report.Onnx, report.OpenVino], roots.Test, progress, cancellationToken);
        });
        ExportCommand.PrintModels(Console, context, folder, [ModelExporter.QuantizedOnnxFileName, ModelExporter.IrFileName]);
        return 0;
    }

    protected override void Summarize(PipelineContext context) =>
        ExportCommand.PrintModels(Console, context, Path.Combine(context.Workspace, OptimizeStage.Folder),
            [ModelExporter.QuantizedOnnxFileName, ModelExporter.IrFileName]);
}

/// <summary>The training and test roots a by-hand export or optimize uses: the options', else the workspace's.</summary>
sealed class ModelRoots(PipelineContext context, ExportSettings settings)
{
    readonly Lazy<WorkspaceData> workspace = new(() => WorkspaceData.Load(Path.Combine(context.Workspace, WorkspaceData.FileName)));

    public string Train => context.FullPath(settings.TrainDataRoots ?? workspace.Value.Train.Root);
    public string Test => context.FullPath(settings.TestDataRoots ?? workspace.Value.Test.Root);
}
