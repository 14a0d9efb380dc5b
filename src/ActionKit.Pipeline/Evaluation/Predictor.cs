using ActionKit.Data.Loading;
using ActionKit.Engine;
using ActionKit.Pipeline.Training;

namespace ActionKit.Pipeline.Evaluation;

/// <summary>One class and its probability in a prediction.</summary>
public sealed record Prediction(string Label, double Probability);

/// <summary>
/// <c>actionkit predict</c>: the top classes of one video (a video file, a folder of frames, or a CVAT video folder)
/// with the evaluation's preprocessing and views.
/// </summary>
public static class Predictor
{
    public static IReadOnlyList<Prediction> Predict(string weightsPath, string videoPath, string device = "auto", int top = 5,
        CancellationToken cancellationToken = default)
    {
        using var backend = Devices.Create(device);
        using var model = TrainedModel.Load(weightsPath, backend);
        var preprocessing = ModelFactory.Preprocessing(model.Template.Data);
        var views = ClipLoader.ReadVideo(VideoFrames.Open(videoPath, cancellationToken), preprocessing);
        var mean = VideoScorer.Score(model.Network, [views], batchCount: 1, videoCount: 1, "predicting", null)[0];
        var names = model.Labels.Names;
        return [.. ClassificationMetrics.Ranking(mean).Take(top).Select(k => new Prediction(names[k], mean[k]))];
    }
}
