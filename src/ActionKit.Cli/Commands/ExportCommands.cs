using System.ComponentModel;
using ActionKit.Data;
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
/// A verb that writes models: it runs its cached stage, or by hand (any of the reference's options given) writes the
/// models of --load-weights into --save-model-to and evaluates them; either way it prints each model's scores.
/// </summary>
public abstract class ModelWritingCommand(IAnsiConsole console) : StageCommand<ExportSettings>(console)
{
    /// <summary>The workspace folder the stage writes (exported, optimized).</summary>
    protected abstract string Folder { get; }

    /// <summary>The model the stage reads, relative to the workspace.</summary>
    protected abstract string DefaultModel { get; }

    /// <summary>The model files written, in the order they are reported.</summary>
    protected abstract IReadOnlyList<string> Files { get; }

    /// <summary>Writes the models of <paramref name="model"/> into <paramref name="folder"/>.</summary>
    protected abstract void Write(PipelineContext context, string model, string folder, ModelRoots roots, IProgress<WorkProgress> progress,
        CancellationToken cancellationToken);

    public override int Execute(CommandContext commandContext, ExportSettings settings, CancellationToken cancellationToken)
    {
        if (!settings.ByHand)
            return base.Execute(commandContext, settings, cancellationToken);
        var context = settings.CreateContext();
        var roots = new ModelRoots(context, settings);
        string folder = context.FullPath(settings.SaveModelTo ?? Path.Combine(context.Workspace, Folder));
        string model = context.FullPath(settings.LoadWeights ?? Path.Combine(context.Workspace, DefaultModel));
        ProgressDisplay.Run(Console, progress =>
        {
            Write(context, model, folder, roots, progress, cancellationToken);
            ExportStage.EvaluateModels(context, folder, folder, Files, roots.Test, progress, cancellationToken);
        });
        PrintModels(context, folder);
        return 0;
    }

    protected override void Summarize(PipelineContext context) => PrintModels(context, Path.Combine(context.Workspace, Folder));

    /// <summary>Each model's file, runtime and scores, from the reports beside it.</summary>
    void PrintModels(PipelineContext context, string folder)
    {
        var reports = Files.Select(file => (file, report: PerformanceReport.Load(Path.Combine(folder, ExportStage.ReportFileName(file))))).ToList();
        var table = new Table().AddColumns("model", "runtime", "Accuracy (frame-wise)", "video top-1", "mean class");
        foreach (var (file, report) in reports)
            table.AddRow(Markup.Escape(context.DisplayPath(Path.Combine(folder, file))), Markup.Escape(report.Runtime),
                $"{report.Accuracy:F4}", $"{report.VideoTop1:F4}", $"{report.MeanClassAccuracy:F4}");
        Console.Write(table);
        foreach (var (file, report) in reports)
            Console.MarkupLineInterpolated($"Performance(score: {report.Accuracy:F4}) {file}");
    }
}

/// <summary>
/// <c>actionkit export</c>: like <c>otx export</c>. Runs the cached Export stage, or by hand exports --load-weights to
/// model.onnx and openvino.xml + .bin in --save-model-to, checks them against the engine and evaluates them.
/// </summary>
public sealed class ExportCommand(IAnsiConsole console) : ModelWritingCommand(console)
{
    protected override string StageName => "export";
    protected override string Folder => ExportStage.Folder;
    protected override string DefaultModel => Path.Combine("models", "weights.safetensors");
    protected override IReadOnlyList<string> Files => [ModelExporter.OnnxFileName, ModelExporter.IrFileName];

    protected override void Write(PipelineContext context, string model, string folder, ModelRoots roots, IProgress<WorkProgress> progress,
        CancellationToken cancellationToken) =>
        ModelExporter.Export(model, folder, roots.Test, context.Workers, cancellationToken);
}

/// <summary>
/// <c>actionkit optimize</c>: like <c>otx optimize</c>. Runs the cached Optimize stage, or by hand quantizes an exported
/// openvino.xml (--load-weights) into --save-model-to: model.int8.onnx (QDQ) and openvino.xml (FakeQuantize).
/// </summary>
public sealed class OptimizeCommand(IAnsiConsole console) : ModelWritingCommand(console)
{
    protected override string StageName => "optimize";
    protected override string Folder => OptimizeStage.Folder;
    protected override string DefaultModel => Path.Combine(ExportStage.Folder, ModelExporter.IrFileName);
    protected override IReadOnlyList<string> Files => [ModelExporter.QuantizedOnnxFileName, ModelExporter.IrFileName];

    protected override void Write(PipelineContext context, string model, string folder, ModelRoots roots, IProgress<WorkProgress> progress,
        CancellationToken cancellationToken) =>
        ModelExporter.Optimize(model, folder, roots.Train, roots.Test, context.Params.Optimize, context.Workers, progress, cancellationToken);
}

/// <summary>The training and test roots a by-hand export or optimize uses: the options', else the workspace's.</summary>
public sealed class ModelRoots(PipelineContext context, ExportSettings settings)
{
    readonly Lazy<WorkspaceData> workspace = new(() => WorkspaceData.Load(Path.Combine(context.Workspace, WorkspaceData.FileName)));

    public string Train => context.FullPath(settings.TrainDataRoots ?? workspace.Value.Train.Root);
    public string Test => context.FullPath(settings.TestDataRoots ?? workspace.Value.Test.Root);
}
