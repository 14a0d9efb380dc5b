using System.Text.Json;
using System.Text.Json.Serialization;
using ActionKit.Pipeline.Caching;
using ActionKit.Pipeline.Explain;

namespace ActionKit.Pipeline.Evaluation;

/// <summary>How the test clips were made: the template's preprocessing plus the evaluation's views.</summary>
public sealed record PreprocessingReport(int ClipLen, int FrameInterval, int Clips, int Crops, int ShortSide, int CropSize,
    IReadOnlyList<double> Mean, IReadOnlyList<double> Std, bool ReverseTime);

/// <summary>
/// The check that a model learns time, not frames: the classes that are time-reversed pairs, evaluated with each
/// clip's frames reversed. A model that uses motion predicts the partner class, so accuracy against the original
/// labels falls (at most 0.5 is the bar) and most predictions are the partner.
/// </summary>
public sealed record TimeReversalReport(IReadOnlyList<string> Classes, int Videos, double AccuracyOnOriginalLabels, double PredictedAsPartner);

/// <summary>The per-class figures and the confusion matrix of an evaluation.</summary>
public sealed record ConfusionReport(IReadOnlyList<string> Labels, int[][] Matrix);

/// <summary>
/// performance.json: <c>Accuracy</c> is the reference's frame-wise accuracy (its <c>otx eval</c> score); the rest
/// are the video-wise figures users of action recognition ask for.
/// </summary>
public sealed record PerformanceReport
{
    static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    [JsonPropertyName("Accuracy")]
    public double Accuracy { get; init; }
    public double VideoTop1 { get; init; }
    public double VideoTop5 { get; init; }
    public double MeanClassAccuracy { get; init; }
    public int Videos { get; init; }
    public long Frames { get; init; }
    public IReadOnlyList<ClassMetrics> PerClass { get; init; } = [];
    public required ConfusionReport Confusion { get; init; }
    public required PreprocessingReport Preprocessing { get; init; }
    public TimeReversalReport? TimeReversal { get; init; }
    /// <summary>Eval's saliency maps (workspace/explain/) and how well each layer's maps point at the actors.</summary>
    public ExplainReport? Explain { get; init; }
    /// <summary>What ran the model: the engine, ONNX Runtime or ActionKit's IR executor.</summary>
    public string Runtime { get; init; } = "";
    public string Weights { get; init; } = "";
    public string TestDataRoot { get; init; } = "";

    public void Save(string path) => AtomicFile.WriteAllText(path, JsonSerializer.Serialize(this, Json) + "\n");

    public static PerformanceReport Load(string path) =>
        JsonSerializer.Deserialize<PerformanceReport>(File.ReadAllText(path), Json)
        ?? throw new JsonException($"{path}: empty performance report");
}
