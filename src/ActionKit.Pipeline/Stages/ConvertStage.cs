using ActionKit.Data;
using ActionKit.Data.Hmdb51;

namespace ActionKit.Pipeline.Stages;

/// <summary>
/// Convert: the configured HMDB51 split (rawframes or videos) to CVAT per-video folders, data/cvat/train and
/// data/cvat/valid. An interrupted conversion of the same key resumes: the converter keeps the videos it finished.
/// </summary>
public sealed class ConvertStage : IStage
{
    public string Name => "convert";

    public StageDeclaration Declare(PipelineContext context)
    {
        var (root, split, source) = (context.DataRoot, context.Params.Data.Split, context.Params.Data.Source);
        string media = Path.Combine(root, source == Hmdb51Source.Rawframes ? Hmdb51Layout.RawframesFolder : Hmdb51Layout.VideosFolder);
        return new(
            Home: Path.GetDirectoryName(context.CvatRoot)!,
            Outputs: [Path.GetFileName(context.CvatRoot)],
            Inputs:
            [
                Hmdb51Layout.LabelMapPath(root),
                Hmdb51Layout.SplitFilePath(root, Hmdb51Subset.Train, split, source),
                Hmdb51Layout.SplitFilePath(root, Hmdb51Subset.Val, split, source),
                media,
            ],
            Params: ["data.split", "data.source"],
            Upstream: context.UsesSyntheticData ? ["synth"] : [],
            Code: [StageCode.Data, "ActionKit.Pipeline/Stages/ConvertStage.cs"],
            Packages: StageCode.DataPackages);
    }

    public void Run(PipelineContext context, string workFolder, IProgress<WorkProgress>? progress, CancellationToken cancellationToken) =>
        Hmdb51ToCvat.Convert(
            context.DataRoot,
            context.Params.Data.Split,
            context.Params.Data.Source,
            Path.Combine(workFolder, Path.GetFileName(context.CvatRoot)),
            progress,
            cancellationToken);
}
