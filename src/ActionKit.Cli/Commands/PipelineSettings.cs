using System.ComponentModel;
using ActionKit.Data.Hmdb51;
using ActionKit.Pipeline;
using ActionKit.Pipeline.Parameters;
using Spectre.Console.Cli;

namespace ActionKit.Cli.Commands;

/// <summary>
/// The options of every stage verb (the same as build.sh's): where the pipeline lives, and overrides of params.yaml.
/// Every verb takes them all, as build.sh passes them to each stage; a stage's key only sees the params it reads.
/// </summary>
public class PipelineSettings : CommandSettings
{
    [CommandOption("--root <DIR>")]
    [Description("Pipeline root: holds params.yaml; relative paths start here. Default: the current folder.")]
    public string Root { get; init; } = ".";

    [CommandOption("--workspace <DIR>")]
    [Description("Workspace folder. Default: workspace.")]
    public string Workspace { get; init; } = PipelineContext.DefaultWorkspace;

    [CommandOption("--data <DIR>")]
    [Description("HMDB51-layout dataset (params: data.root). The synthetic data/synth-hmdb51 by default.")]
    public string? Data { get; init; }

    [CommandOption("--split <N>")]
    [Description("HMDB51 split 1, 2 or 3 (params: data.split).")]
    public int? Split { get; init; }

    [CommandOption("--source <SOURCE>")]
    [Description("rawframes or videos (params: data.source).")]
    public Hmdb51Source? Source { get; init; }

    [CommandOption("--template <ID>")]
    [Description("Template id, name or .yaml path (params: template).")]
    public string? Template { get; init; }

    [CommandOption("--device <DEVICE>")]
    [Description("auto, cpu or cuda (params: device).")]
    public DeviceChoice? Device { get; init; }

    [CommandOption("--seed <N>")]
    [Description("Synthetic dataset seed (params: synth.seed).")]
    public ulong? Seed { get; init; }

    [CommandOption("--videos")]
    [Description("Synth also writes .avi videos (params: synth.videos).")]
    public bool Videos { get; init; }

    [CommandOption("--epochs <N>")]
    [Description("Training epochs (params: train.epochs).")]
    public int? Epochs { get; init; }

    [CommandOption("--batch-size <N>")]
    [Description("Training batch size (params: train.batch_size).")]
    public int? BatchSize { get; init; }

    [CommandOption("--lr <RATE>")]
    [Description("Learning rate (params: train.learning_rate).")]
    public double? LearningRate { get; init; }

    [CommandOption("--load-from <PATH>")]
    [Description("Build/Train: fine-tune from a PyTorch X3D checkpoint, mmaction2 or PyTorchVideo names (params: train.load_from).")]
    public string? LoadFrom { get; init; }

    [CommandOption("--resume")]
    [Description("Train: continue an interrupted run of the same key from its last epoch (models/last.ckpt).")]
    public bool Resume { get; init; }

    [CommandOption("--workers <N>")]
    [Description("Loader threads decoding and augmenting ahead of training and evaluation. Default: the cores, at most 4.")]
    public int? Workers { get; init; }

    [CommandOption("--clips <N>")]
    [Description("Eval: clips per video, scores averaged (params: eval.clips; default the template's).")]
    public int? Clips { get; init; }

    [CommandOption("--crops <N>")]
    [Description("Eval: 1 (centre crop) or 3 (three crops) per clip (params: eval.crops).")]
    public int? Crops { get; init; }

    [CommandOption("--force")]
    [Description("Run the stage even when it is up to date.")]
    public bool Force { get; init; }

    /// <summary>params.yaml under the root, overridden by the options given.</summary>
    public PipelineContext CreateContext()
    {
        var parameters = ParamsLoader.Load(Path.Combine(Root, ParamsLoader.FileName), Overrides());
        var context = new PipelineContext(Root, parameters, Workspace) { Resume = Resume };
        return Workers is { } workers ? context with { Workers = Math.Max(1, workers) } : context;
    }

    private List<ParamOverride> Overrides()
    {
        var overrides = new List<ParamOverride>();
        void Add(string key, object? value, string option)
        {
            if (value is not null)
                overrides.Add(new ParamOverride(key, value, option));
        }
        Add("data.root", Data, "--data");
        Add("data.split", Split, "--split");
        Add("data.source", Source, "--source");
        Add("template", Template, "--template");
        Add("device", Device, "--device");
        Add("synth.seed", Seed, "--seed");
        Add("synth.videos", Videos ? true : null, "--videos");
        Add("train.epochs", Epochs, "--epochs");
        Add("train.batch_size", BatchSize, "--batch-size");
        Add("train.learning_rate", LearningRate, "--lr");
        Add("train.load_from", LoadFrom, "--load-from");
        Add("eval.clips", Clips, "--clips");
        Add("eval.crops", Crops, "--crops");
        return overrides;
    }
}
