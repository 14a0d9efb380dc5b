using ActionKit.Data.Hmdb51;
using ActionKit.Data.Synthetic;

namespace ActionKit.Pipeline.Parameters;

/// <summary>The pipeline's parameters: params.yaml at the repository root (DVC convention), then command-line overrides.</summary>
public sealed record PipelineParams
{
    /// <summary>The synthetic dataset that Synth writes when no real dataset is configured (ActionKit.Data's options).</summary>
    public SyntheticOptions Synth { get; init; } = new();

    public DataParams Data { get; init; } = new();

    /// <summary>Template id or name (see <c>actionkit find</c>).</summary>
    public string Template { get; init; } = "X3D-CPU";

    public TrainParams Train { get; init; } = new();
    public EvalParams Eval { get; init; } = new();
    public OptimizeParams Optimize { get; init; } = new();
    public DeviceChoice Device { get; init; } = DeviceChoice.Auto;
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

    /// <summary>A PyTorch X3D checkpoint to fine-tune from (the template's load_from); null keeps the template's.</summary>
    public string? LoadFrom { get; init; }
}

/// <summary>Evaluation's views per video (mmaction2's multi-view testing): softmax scores are averaged over them.</summary>
public sealed record EvalParams
{
    /// <summary>Clips sampled per video; null keeps the template's num_clips.</summary>
    public int? Clips { get; init; }

    /// <summary>1 (centre crop) or 3 (three crops along the long side).</summary>
    public int Crops { get; init; } = 1;

    /// <summary>Videos per class whose saliency maps Eval writes to the workspace's explain/ (0: no explanations).</summary>
    public int Explain { get; init; } = 2;
}

/// <summary>Post-training INT8 quantization (POT DefaultQuantization, preset performance).</summary>
public sealed record OptimizeParams
{
    /// <summary>Calibration videos, drawn shuffled from the training root (OTX: min(300, dataset size)).</summary>
    public int SubsetSize { get; init; } = 300;

    /// <summary>The shuffle's seed, so the calibration subset and the INT8 model are reproducible.</summary>
    public int Seed { get; init; }

    public bool FastBiasCorrection { get; init; } = true;

    /// <summary>
    /// Accuracy-aware mode (POT's AccuracyAwareQuantization): the largest top-1 loss (a fraction, 0.005 = half a point)
    /// INT8 may cost on the validation videos before its most sensitive layers go back to float; null turns it off.
    /// </summary>
    public double? MaxDrop { get; init; }
}

/// <summary>Where to compute: the first CUDA GPU when there is one (auto), or a fixed choice.</summary>
public enum DeviceChoice
{
    Auto,
    Cpu,
    Cuda,
}
