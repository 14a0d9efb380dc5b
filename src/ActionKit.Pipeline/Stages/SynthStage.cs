using ActionKit.Data;
using ActionKit.Data.Synthetic;
using ActionKit.Pipeline.Parameters;

namespace ActionKit.Pipeline.Stages;

/// <summary>Synth: writes the synthetic dataset (HMDB51 layout, split 1) at data/synth-hmdb51 from params' synth section.</summary>
public sealed class SynthStage : IStage
{
    public string Name => "synth";

    public StageDeclaration Declare(PipelineContext context)
    {
        string root = context.FullPath(DataParams.SyntheticRoot);
        return new(Home: Path.GetDirectoryName(root)!, Outputs: [Path.GetFileName(root)], Inputs: [], Params: ["synth"], Upstream: [],
            Code: [StageCode.Data, "ActionKit.Pipeline/Stages/SynthStage.cs"], Packages: StageCode.DataPackages);
    }

    public void Run(PipelineContext context, string workFolder, IProgress<WorkProgress>? progress, CancellationToken cancellationToken) =>
        SyntheticDataset.Generate(Path.Combine(workFolder, Path.GetFileName(DataParams.SyntheticRoot)), context.Params.Synth, progress, cancellationToken);
}
