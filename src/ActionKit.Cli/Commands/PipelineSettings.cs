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
public sealed class PipelineSettings : CommandSettings
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

    [CommandOption("--learning-rate <RATE>")]
    [Description("Learning rate (params: train.learning_rate).")]
    public double? LearningRate { get; init; }

    [CommandOption("--force")]
    [Description("Run the stage even when it is up to date.")]
    public bool Force { get; init; }

    /// <summary>params.yaml under the root, overridden by the options given.</summary>
    public PipelineContext CreateContext()
    {
        var parameters = ParamsLoader.Load(Path.Combine(Root, ParamsLoader.FileName), Overrides());
        return new PipelineContext(Root, parameters, Workspace);
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
        Add("train.learning_rate", LearningRate, "--learning-rate");
        return overrides;
    }
}
