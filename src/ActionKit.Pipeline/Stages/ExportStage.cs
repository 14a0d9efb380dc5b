using ActionKit.Data;
using ActionKit.Pipeline.Evaluation;
using ActionKit.Pipeline.Export;
using ActionKit.Pipeline.Training;
using ActionKit.Pipeline.Workspace;

namespace ActionKit.Pipeline.Stages;

/// <summary>
/// Export (like <c>otx export</c>): the trained weights to exported/model.onnx and exported/openvino.xml + .bin, with
/// their label schema and template, export.json (how closely ONNX Runtime and the IR executor reproduce the engine)
/// and each exported model's evaluation on the test root (performance_onnx.json, performance_openvino.json).
/// </summary>
public sealed class ExportStage : IStage
{
    public const string Folder = "exported";

    public string Name => "export";

    public StageDeclaration Declare(PipelineContext context) => new(
        Home: context.Workspace,
        Outputs: [Folder],
        Inputs: [.. ModelInputs(Path.Combine(context.Workspace, Trainer.ModelsFolder), TrainedModel.WeightsFileName),
            Path.Combine(context.Workspace, WorkspaceData.FileName)],
        Params: ["eval.clips", "eval.crops"],
        Upstream: ["train", "build"],
        Code: [.. StageCode.Export, "ActionKit.Pipeline/Stages/ExportStage.cs"],
        Packages: StageCode.ExportPackages);

    public void Run(PipelineContext context, string workFolder, IProgress<WorkProgress>? progress, CancellationToken cancellationToken)
    {
        string folder = Path.Combine(workFolder, Folder);
        string testRoot = TestRoot(context);
        progress?.Report(new WorkProgress("exporting", 0, 1));
        var report = ModelExporter.Export(
            Path.Combine(context.Workspace, Trainer.ModelsFolder, TrainedModel.WeightsFileName), folder, testRoot, context.Workers, cancellationToken);
        progress?.Report(new WorkProgress("exported", 1, 1, ModelExporter.Describe(report.Agreement)));
        ExportStage.EvaluateModels(context, folder, Path.Combine(context.Workspace, Folder), [report.Onnx, report.OpenVino], testRoot,
            progress, cancellationToken);
    }

    /// <summary>A model file and the companions it is read with (label schema, template).</summary>
    internal static string[] ModelInputs(string folder, params string[] files) =>
        [.. files.Select(file => Path.Combine(folder, file)), Path.Combine(folder, LabelSchema.FileName), Path.Combine(folder, WorkspaceTemplate.FileName)];

    /// <summary>
    /// Evaluates each of <paramref name="files"/> in <paramref name="folder"/> on the test root with the Eval stage's
    /// views, writing performance_onnx.json or performance_openvino.json beside it; <paramref name="finalFolder"/> is where
    /// the reports name the models (the folder the stage's outputs move to).
    /// </summary>
    public static void EvaluateModels(PipelineContext context, string folder, string finalFolder, IReadOnlyList<string> files,
        string testRoot, IProgress<WorkProgress>? progress, CancellationToken cancellationToken)
    {
        foreach (var file in files)
        {
            var request = new EvaluationRequest(Path.Combine(folder, file), testRoot, "cpu", context.Params.Eval.Clips, context.Params.Eval.Crops,
                Workers: context.Workers, TimeReversalCheck: false);
            var report = Evaluator.Evaluate(request, progress, cancellationToken) with
            {
                Weights = context.DisplayPath(Path.Combine(finalFolder, file)),
                TestDataRoot = context.DisplayPath(testRoot),
            };
            report.Save(Path.Combine(folder, ReportFileName(file)));
            progress?.Report(new WorkProgress("evaluated", 1, 1, $"{file} ({report.Runtime}): Accuracy {report.Accuracy:F4}, video top-1 {report.VideoTop1:F4}"));
        }
    }

    /// <summary>performance_onnx.json for a .onnx model, performance_openvino.json for an IR.</summary>
    public static string ReportFileName(string modelFile) =>
        Path.GetExtension(modelFile) == ".onnx" ? "performance_onnx.json" : "performance_openvino.json";

    internal static string TestRoot(PipelineContext context) =>
        context.FullPath(WorkspaceData.Load(Path.Combine(context.Workspace, WorkspaceData.FileName)).Test.Root);
}

/// <summary>
/// Optimize (like <c>otx optimize</c>): the exported IR to INT8 by post-training quantization on clips of the training
/// root: optimized/model.int8.onnx (QDQ, for ONNX Runtime's int8 kernels) and optimized/openvino.xml + .bin
/// (FakeQuantize), quantization.json, and each INT8 model's evaluation on the test root.
/// </summary>
public sealed class OptimizeStage : IStage
{
    public const string Folder = "optimized";

    public string Name => "optimize";

    public StageDeclaration Declare(PipelineContext context) => new(
        Home: context.Workspace,
        Outputs: [Folder],
        Inputs: [.. ExportStage.ModelInputs(Path.Combine(context.Workspace, ExportStage.Folder), ModelExporter.IrFileName, "openvino.bin"),
            Path.Combine(context.Workspace, WorkspaceData.FileName)],
        Params: ["optimize", "eval.clips", "eval.crops"],
        Upstream: ["export", "build"],
        Code: [.. StageCode.Export, "ActionKit.Pipeline/Stages/ExportStage.cs"],
        Packages: StageCode.ExportPackages);

    public void Run(PipelineContext context, string workFolder, IProgress<WorkProgress>? progress, CancellationToken cancellationToken)
    {
        string folder = Path.Combine(workFolder, Folder);
        string testRoot = ExportStage.TestRoot(context);
        var data = WorkspaceData.Load(Path.Combine(context.Workspace, WorkspaceData.FileName));
        var report = ModelExporter.Optimize(Path.Combine(context.Workspace, ExportStage.Folder, ModelExporter.IrFileName), folder,
            context.FullPath(data.Train.Root), testRoot, context.Params.Optimize, context.Workers, progress, cancellationToken);
        progress?.Report(new WorkProgress("quantized", 1, 1, $"{report.Layers.Count} layers, {report.CalibrationClips} calibration clips; "
            + ModelExporter.Describe(report.Agreement)));
        ExportStage.EvaluateModels(context, folder, Path.Combine(context.Workspace, Folder), [report.Onnx, report.OpenVino], testRoot,
            progress, cancellationToken);
    }
}
