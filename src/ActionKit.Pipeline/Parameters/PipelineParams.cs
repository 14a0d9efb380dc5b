using ActionKit.Data.Hmdb51;

namespace ActionKit.Pipeline.Parameters;

/// <summary>The pipeline's parameters: params.yaml at the repository root (DVC convention), then command-line overrides.</summary>
public sealed record PipelineParams
{
    public SynthParams Synth { get; init; } = new();
    public DataParams Data { get; init; } = new();

    /// <summary>Template id or name (see <c>actionkit find</c>).</summary>
    public string Template { get; init; } = "X3D-CPU";

    public TrainParams Train { get; init; } = new();
    public DeviceChoice Device { get; init; } = DeviceChoice.Auto;
}

/// <summary>The synthetic dataset that stands in for HMDB51 when no real dataset is configured.</summary>
public sealed record SynthParams
{
    public int Seed { get; init; } = 7;
    public int VideosPerClass { get; init; } = 8;
    public int ValVideosPerClass { get; init; } = 4;
    public int MinFrames { get; init; } = 24;
    public int MaxFrames { get; init; } = 40;
    public int Width { get; init; } = 80;
    public int Height { get; init; } = 60;

    /// <summary>Also write each clip as an .avi video (for the <c>videos</c> source), not only as JPEG frames.</summary>
    public bool Videos { get; init; }
}

/// <summary>Where the HMDB51-layout dataset is and which split and source the pipeline converts.</summary>
public sealed record DataParams
{
    /// <summary>The default root; the Synth stage writes it, and runs only when the data root is this folder.</summary>
    public const string SyntheticRoot = "data/synth-hmdb51";

    public string Root { get; init; } = SyntheticRoot;
    public int Split { get; init; } = 1;
    public Hmdb51Source Source { get; init; } = Hmdb51Source.Rawframes;
}

/// <summary>Overrides of the template's hyper_parameters; null keeps the template's value.</summary>
public sealed record TrainParams
{
    public int? Epochs { get; init; }
    public int? BatchSize { get; init; }
    public double? LearningRate { get; init; }
}

/// <summary>Where to compute: the first CUDA GPU when there is one (auto), or a fixed choice.</summary>
public enum DeviceChoice
{
    Auto,
    Cpu,
    Cuda,
}
