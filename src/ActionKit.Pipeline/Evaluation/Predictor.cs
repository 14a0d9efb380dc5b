using ActionKit.Data.Loading;

namespace ActionKit.Pipeline.Evaluation;

/// <summary>One class and its probability in a prediction.</summary>
public sealed record Prediction(string Label, double Probability);

/// <summary>
/// <c>actionkit predict</c>: the top classes of one video (a video file, a folder of frames, or a CVAT video folder)
/// with the evaluation's preprocessing and views.
/// </summary>
public static class Predictor
{
    /// <summary>The <paramref name="top"/> classes of the video; <paramref name="runtime"/> says what ran the model (and on which device).</summary>
    public static IReadOnlyList<Prediction> Predict(string weightsPath, string videoPath, string device, int top, out string runtime,
        CancellationToken cancellationToken = default)
    {
        using var model = VideoClassifier.Open(weightsPath, device);
        runtime = model.Runtime;
        var views = ClipLoader.ReadVideo(VideoFrames.Open(videoPath, cancellationToken), model.Preprocessing());
        var names = model.Labels.Names;
        var mean = VideoScorer.Score(model.Logits, names.Count, [views], batchCount: 1, videoCount: 1, "predicting", null)[0];
        return [.. ClassificationMetrics.Ranking(mean).Take(top).Select(k => new Prediction(names[k], mean[k]))];
    }
}
