using ActionKit.Data;
using ActionKit.Data.Hmdb51;

namespace ActionKit.Pipeline.Stages;

/// <summary>
/// Convert: the configured HMDB51 split (rawframes or videos) to CVAT per-video folders <c>train/</c> and <c>valid/</c>
/// in the dataset's own folder, <see cref="PipelineContext.CvatRoot"/>, which also holds this stage's lock: converting
/// another dataset or split leaves this one in place and up to date. An interrupted conversion of the same key
/// resumes: the converter keeps the videos it finished.
/// </summary>
public sealed class ConvertStage : IStage
{
    public string Name => "convert";

    public StageDeclaration Declare(PipelineContext context)
    {
        var (root, split, source) = (context.DataRoot, context.Params.Data.Split, context.Params.Data.Source);
        string media = Path.Combine(root, source == Hmdb51Source.Rawframes ? Hmdb51Layout.RawframesFolder : Hmdb51Layout.VideosFolder);
        return new(
            Home: context.CvatRoot,
            Outputs: [Hmdb51ToCvat.TrainFolder, Hmdb51ToCvat.ValidFolder],
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
            workFolder,
            progress,
            cancellationToken);
}
