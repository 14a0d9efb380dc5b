namespace ActionKit.Pipeline.Templates;

/// <summary>A model template (like the reference's template.yaml): the network, its data pipeline and its training recipe.</summary>
public sealed record ModelTemplate
{
    public string Id { get; init; } = "";
    public string Name { get; init; } = "";
    public string Task { get; init; } = "";
    public string Description { get; init; } = "";
    public TemplateModel Model { get; init; } = new();
    public TemplateData Data { get; init; } = new();
    public HyperParameters HyperParameters { get; init; } = new();

    /// <summary>
    /// A PyTorch X3D checkpoint (mmaction2 or PyTorchVideo names) to fine-tune from, as the reference's load_from;
    /// relative to the pipeline root. Null: train from random weights.
    /// </summary>
    public string? LoadFrom { get; init; }
}

/// <summary>The X3D network's shape (x3d.md): stage widths and depths, bottleneck expansion, squeeze-excitation, head.</summary>
public sealed record TemplateModel
{
    public string Architecture { get; init; } = "";
    public int StemWidth { get; init; }
    public int[] Widths { get; init; } = [];
    public int[] Depths { get; init; } = [];
    public double BottleneckFactor { get; init; }
    public double SeRatio { get; init; }
    public int SeEvery { get; init; }
    public int HeadWidth { get; init; }
    public int HeadHidden { get; init; }
    public double Dropout { get; init; }
    public double BnEps { get; init; }
    public double BnMomentum { get; init; }
}

/// <summary>Clip sampling, augmentation and normalization: the one preprocessing definition every runtime shares.</summary>
public sealed record TemplateData
{
    public int ClipLen { get; init; }
    public int FrameInterval { get; init; }
    public int NumClips { get; init; }
    public int ShortSide { get; init; }
    public int CropSize { get; init; }
    public int TestCropSize { get; init; }
    public double[] AreaRange { get; init; } = [];
    public double[] AspectRatioRange { get; init; } = [];
    public double FlipRatio { get; init; }
    public double[] Mean { get; init; } = [];
    public double[] Std { get; init; } = [];
}

/// <summary>The training recipe; params.yaml's train section overrides some of it.</summary>
public sealed record HyperParameters
{
    /// <summary>The optimizer names the trainer implements.</summary>
    public static IReadOnlyList<string> KnownOptimizers { get; } = ["sgd", "adam", "adamw"];

    /// <summary>The learning-rate schedules the trainer implements (after linear warm-up).</summary>
    public static IReadOnlyList<string> KnownSchedules { get; } = ["constant", "step", "cosine"];

    public int BatchSize { get; init; }
    public int Epochs { get; init; }
    public string Optimizer { get; init; } = "";
    public double LearningRate { get; init; }
    public double WeightDecay { get; init; }
    public double Momentum { get; init; }
    public int WarmupEpochs { get; init; }
    public string Schedule { get; init; } = "";
    public int[] LrSteps { get; init; } = [];
    public double LrGamma { get; init; }
    public double GradClip { get; init; }
    public double LabelSmoothing { get; init; }
    public int Seed { get; init; }
    public bool EarlyStopping { get; init; }
    public int EarlyStoppingStart { get; init; }
    public int EarlyStoppingPatience { get; init; }

    /// <summary>Over several ranks, BatchNorm statistics of the global batch rather than of each rank's part.</summary>
    public bool SyncBn { get; init; }
}
