using ActionKit.Data;
using ActionKit.Data.Cvat;
using ActionKit.Data.Hmdb51;
using ActionKit.Pipeline.Workspace;

namespace ActionKit.Pipeline.Stages;

/// <summary>
/// Build (like <c>otx build</c>): writes the workspace's template.yaml (the template in force) and data.yaml (the
/// CVAT train/valid roots Convert wrote for the configured dataset, their video counts and the labels; test = valid).
/// </summary>
public sealed class BuildStage : IStage
{
    public string Name => "build";

    public StageDeclaration Declare(PipelineContext context) => new(
        Home: context.Workspace,
        Outputs: [WorkspaceTemplate.FileName, WorkspaceData.FileName],
        Inputs: [Path.Combine(context.CvatRoot, Hmdb51ToCvat.TrainFolder), Path.Combine(context.CvatRoot, Hmdb51ToCvat.ValidFolder),
            .. context.TemplateFile is { } file ? new[] { file } : []],
        Params: ["template", "train"],
        Upstream: ["convert"],
        // The template code reaches the key through the template in force it resolves (Contents).
        Code: [StageCode.Data, .. StageCode.Workspace, "ActionKit.Pipeline/Stages/BuildStage.cs"],
        Packages: ["YamlDotNet"],
        // A built-in template changes with ActionKit's code, not with a file the stage could hash.
        Contents: new Dictionary<string, string> { ["template in force"] = WorkspaceTemplate.Serialize(context.ResolveTemplate()) });

    public void Run(PipelineContext context, string workFolder, IProgress<WorkProgress>? progress, CancellationToken cancellationToken)
    {
        var template = context.ResolveTemplate();
        var train = CvatDataset.Open(Path.Combine(context.CvatRoot, Hmdb51ToCvat.TrainFolder));
        var valid = CvatDataset.Open(Path.Combine(context.CvatRoot, Hmdb51ToCvat.ValidFolder));
        var validSubset = new DataSubset { Root = context.DisplayPath(valid.Root), Videos = valid.Videos.Count };
        var data = new WorkspaceData
        {
            Train = new DataSubset { Root = context.DisplayPath(train.Root), Videos = train.Videos.Count },
            Val = validSubset,
            Test = validSubset,
            Labels = [.. train.Labels.Union(valid.Labels).Order(StringComparer.Ordinal)],
        };
        WorkspaceTemplate.Save(template, Path.Combine(workFolder, WorkspaceTemplate.FileName));
        data.Save(Path.Combine(workFolder, WorkspaceData.FileName));
        progress?.Report(new WorkProgress("workspace", 1, 1));
    }
}
