using ActionKit.Data;
using ActionKit.Data.Cvat;
using ActionKit.Data.Loading;
using ActionKit.Pipeline.Training;
using ActionKit.Pipeline.Workspace;

namespace ActionKit.Pipeline.Stages;

/// <summary>
/// Train (like <c>otx train</c>): the workspace's template and data to models/weights.safetensors (the best epoch),
/// models/label_schema.json, models/template.yaml, models/last.ckpt, metrics.jsonl and curves.png. An interrupted run
/// of the same key continues from its last epoch with <c>--resume</c>.
/// </summary>
public sealed class TrainStage : IStage
{
    public string Name => "train";

    public StageDeclaration Declare(PipelineContext context) => new(
        Home: context.Workspace,
        Outputs: [Trainer.ModelsFolder, EpochMetrics.FileName, Trainer.CurvesFileName],
        Inputs: [Path.Combine(context.Workspace, WorkspaceTemplate.FileName), Path.Combine(context.Workspace, WorkspaceData.FileName)],
        Params: ["device"],
        Upstream: ["build"],
        // Validation after each epoch scores the clips and computes the metrics; the rest of Evaluation is Eval's.
        Code: [.. StageCode.Model, "ActionKit.Pipeline/Training", "ActionKit.Pipeline/Evaluation/VideoScorer.cs",
            "ActionKit.Pipeline/Evaluation/ClassificationMetrics.cs", "ActionKit.Pipeline/Stages/TrainStage.cs"],
        Packages: [.. StageCode.ModelPackages, "Razorvine.Pickle", "ScottPlot"]);

    public void Run(PipelineContext context, string workFolder, IProgress<WorkProgress>? progress, CancellationToken cancellationToken)
    {
        var template = WorkspaceTemplate.Load(Path.Combine(context.Workspace, WorkspaceTemplate.FileName));
        var data = WorkspaceData.Load(Path.Combine(context.Workspace, WorkspaceData.FileName));
        var train = LabeledVideo.FromCvat(CvatDataset.Open(context.FullPath(data.Train.Root)), data.Labels);
        var val = LabeledVideo.FromCvat(CvatDataset.Open(context.FullPath(data.Val.Root)), data.Labels);
        var summary = Trainer.Run(new TrainingRun(workFolder, template, data.Labels, train, val,
            context.Params.Device.ToString().ToLowerInvariant(), context.Resume, context.Workers, context.PretrainedFile(template), context.Ranks), progress, cancellationToken);
        progress?.Report(new WorkProgress("trained", 1, 1, $"best val top-1 {summary.BestValTop1:F3} at epoch {summary.BestEpoch}"
            + (summary.StoppedEarly ? " (stopped early)" : "")));
    }
}
