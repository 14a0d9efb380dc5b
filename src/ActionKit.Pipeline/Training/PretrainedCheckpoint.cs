using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using ActionKit.Engine.Checkpoints;
using ActionKit.Engine.Models;
using ActionKit.Pipeline.Caching;
using ActionKit.Pipeline.Templates;

namespace ActionKit.Pipeline.Training;

/// <summary>
/// An upstream X3D checkpoint (mmaction2 or PyTorchVideo) read for a template: its state dict, whose names it uses,
/// and the network to build, which has the checkpoint's architecture (its depths may differ from the template's; its
/// widths, bottleneck, squeeze-excitation and head may not) and the class count the model is to have.
/// </summary>
public sealed record PretrainedCheckpoint(PyTorchStateDict State, UpstreamNames Names, X3DConfig Config, IReadOnlyList<string> Notes)
{
    /// <summary>models/import.json: what the import mapped, re-initialized, missed and left unused.</summary>
    public const string ReportFileName = "import.json";

    static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Converters = { new JsonStringEnumConverter() }, // MMAction2, PyTorchVideo
    };

    /// <summary>
    /// Reads <paramref name="path"/> and checks its architecture against <paramref name="template"/>'s network. The
    /// model gets <paramref name="numClasses"/> classes, or the checkpoint's own when null.
    /// </summary>
    public static PretrainedCheckpoint Open(string path, ModelTemplate template, int? numClasses)
    {
        var state = PyTorchCheckpoint.Read(path);
        var names = UpstreamX3D.Detect(state);
        var expected = ModelFactory.NetworkConfig(template.Model, numClasses ?? 1);
        var config = UpstreamX3D.InferConfig(state, names, expected, numClasses);
        string classifier = UpstreamX3D.UpstreamName(names, config, "fc2.weight");
        if (numClasses is null && !state.Tensors.ContainsKey(classifier))
            throw new CheckpointFormatException(path, $"has no classifier ({classifier}), so its class count is unknown; give the class names.");
        expected = expected with { NumClasses = config.NumClasses };
        var problems = new List<string>();
        void Compare<T>(string what, T found, T wanted, Func<T, string> show)
        {
            if (!EqualityComparer<T>.Default.Equals(found, wanted))
                problems.Add($"{what} {show(found)} (the template: {show(wanted)})");
        }
        Compare("stem width", config.StemWidth, expected.StemWidth, Show);
        Compare("stage widths", string.Join(", ", config.Widths), string.Join(", ", expected.Widths), w => $"[{w}]");
        Compare("bottleneck widths", string.Join(", ", config.Widths.Select(config.InnerWidth)), string.Join(", ", expected.Widths.Select(expected.InnerWidth)), w => $"[{w}]");
        Compare("squeeze-excitation every", config.SeEvery, expected.SeEvery, Show);
        Compare("head width", config.HeadWidth, expected.HeadWidth, Show);
        Compare("head hidden width", config.HeadHidden, expected.HeadHidden, Show);
        if (problems.Count > 0)
            throw new CheckpointFormatException(path, $"its X3D ({names}) does not have the network of template {template.Name}: {string.Join("; ", problems)}.");
        var notes = new List<string>();
        if (!config.Depths.SequenceEqual(expected.Depths))
            notes.Add($"depths [{string.Join(", ", config.Depths)}] taken from the checkpoint (template {template.Name}: [{string.Join(", ", expected.Depths)}])");
        if (config.StemWidth == config.Widths[0] && config.StrideOnlyShortcutWithoutNorm)
            notes.Add("the first block's stride-only shortcut has no BatchNorm, as in PyTorchVideo");
        return new PretrainedCheckpoint(state, names, config, notes);
    }

    static string Show(int value) => value.ToString(CultureInfo.InvariantCulture);

    /// <summary>
    /// The template for fine-tuning from <paramref name="loadFrom"/>: its load_from set, and the pixel normalization
    /// the pretrained weights expect (both implementations' Kinetics checkpoints: mean 114.75, std 57.375).
    /// </summary>
    public static ModelTemplate ForFineTuning(ModelTemplate template, string loadFrom) => template with
    {
        LoadFrom = loadFrom,
        Data = template.Data with { Mean = PretrainedMean, Std = PretrainedStd },
    };

    static double[] PretrainedMean => [UpstreamX3D.KineticsMean, UpstreamX3D.KineticsMean, UpstreamX3D.KineticsMean];

    static double[] PretrainedStd => [UpstreamX3D.KineticsStd, UpstreamX3D.KineticsStd, UpstreamX3D.KineticsStd];

    /// <summary>How fine-tuning normalizes pixels, for its log.</summary>
    public static string NormalizationNote(ModelTemplate template) => string.Create(CultureInfo.InvariantCulture,
        $"pixels normalized with mean {template.Data.Mean[0]} and std {template.Data.Std[0]} per channel, as the pretrained weights expect");

    /// <summary>Copies the checkpoint into <paramref name="model"/> (built from <see cref="Config"/>).</summary>
    public ImportReport LoadInto(X3D model)
    {
        var report = PretrainedWeights.Load(State, Names, model);
        return report with { Notes = [.. Notes, .. report.Notes] };
    }

    public static void SaveReport(ImportReport report, string path) => AtomicFile.WriteAllText(path, JsonSerializer.Serialize(report, Json) + "\n");

    public static ImportReport LoadReport(string path) =>
        JsonSerializer.Deserialize<ImportReport>(File.ReadAllText(path), Json) ?? throw new TrainingException($"{path}: empty import report");
}
