using ActionKit.Data;
using ActionKit.Pipeline.Evaluation;
using ActionKit.Pipeline.Explain;
using ActionKit.Pipeline.Training;
using ActionKit.Pipeline.Workspace;

namespace ActionKit.Pipeline.Stages;

/// <summary>
/// Eval (like <c>otx eval</c>): the trained weights on the workspace's test root to performance.json (the
/// reference's frame-wise "Accuracy" plus video-wise figures) and confusion.png, and saliency maps of a few videos
/// per class in explain/ (with their pointing score per layer in performance.json when the data has actor boxes).
/// </summary>
public sealed class EvalStage : IStage
{
    public const string ReportFileName = "performance.json";
    public const string ConfusionFileName = "confusion.png";
    public const string ExplainFolder = "explain";

    public string Name => "eval";

    public StageDeclaration Declare(PipelineContext context) => new(
        Home: context.Workspace,
        Outputs: [ReportFileName, ConfusionFileName, ExplainFolder],
        Inputs: [Path.Combine(context.Workspace, Trainer.ModelsFolder, TrainedModel.WeightsFileName), Path.Combine(context.Workspace, WorkspaceData.FileName)],
        Params: ["eval", "device"],
        Upstream: ["train", "build"],
        Code: [.. StageCode.Evaluation, "ActionKit.Pipeline/Explain", "ActionKit.Pipeline/Stages/EvalStage.cs"],
        Packages: [.. StageCode.ModelPackages, "ScottPlot"]);

    public void Run(PipelineContext context, string workFolder, IProgress<WorkProgress>? progress, CancellationToken cancellationToken)
    {
        var data = WorkspaceData.Load(Path.Combine(context.Workspace, WorkspaceData.FileName));
        var request = new EvaluationRequest(
            Path.Combine(context.Workspace, Trainer.ModelsFolder, TrainedModel.WeightsFileName),
            context.FullPath(data.Test.Root),
            context.Params.Device.ToString().ToLowerInvariant(),
            context.Params.Eval.Clips,
            context.Params.Eval.Crops,
            Workers: context.Workers);
        string explainFolder = Path.Combine(workFolder, ExplainFolder);
        Directory.CreateDirectory(explainFolder);
        int mapsPerClass = context.Params.Eval.Explain;
        var report = Evaluator.Evaluate(request, progress, cancellationToken) with
        {
            Weights = context.DisplayPath(request.WeightsPath),
            TestDataRoot = context.DisplayPath(request.TestRoot),
            Explain = mapsPerClass == 0 ? null
                : Explainer.ExplainDataset(request.WeightsPath, request.TestRoot, explainFolder, mapsPerClass, request.Device, progress, cancellationToken),
        };
        Save(report, Path.Combine(workFolder, ReportFileName));
    }

    /// <summary>Writes <paramref name="report"/> to <paramref name="reportPath"/> and its confusion matrix as
    /// confusion.png in the same folder.</summary>
    public static void Save(PerformanceReport report, string reportPath)
    {
        report.Save(reportPath);
        string folder = Path.GetDirectoryName(Path.GetFullPath(reportPath))!;
        Plots.Confusion(Path.Combine(folder, ConfusionFileName), report.Confusion.Matrix, report.Confusion.Labels,
            $"Confusion (frame-wise accuracy {report.Accuracy:F3})");
    }
}
