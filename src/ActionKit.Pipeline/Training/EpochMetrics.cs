using System.Text.Json;

namespace ActionKit.Pipeline.Training;

/// <summary>One line of metrics.jsonl: an epoch's training figures and its validation (video-wise) accuracy.</summary>
public sealed record EpochMetrics(
    int Epoch,
    double TrainLoss,
    double TrainAccuracy,
    double LearningRate,
    double ValTop1,
    double ValMeanClassAccuracy,
    double TrainClipsPerSecond,
    double EpochSeconds)
{
    public const string FileName = "metrics.jsonl";
    public static readonly JsonSerializerOptions Json = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    public string ToJsonLine() => JsonSerializer.Serialize(this, Json);

    public static EpochMetrics FromJsonLine(string line) =>
        JsonSerializer.Deserialize<EpochMetrics>(line, Json) ?? throw new JsonException("empty metrics line");
}
