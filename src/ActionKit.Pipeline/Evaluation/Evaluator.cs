using ActionKit.Data;
using ActionKit.Data.Cvat;
using ActionKit.Data.Loading;
using ActionKit.Data.Synthetic;
using ActionKit.Pipeline.Training;

namespace ActionKit.Pipeline.Evaluation;

/// <summary>What to evaluate: a model (with its schema and template beside it) on a CVAT test root.</summary>
/// <param name="WeightsPath">A weights.safetensors written by training, or an exported or quantized model.onnx or openvino.xml.</param>
/// <param name="TestRoot">A CVAT folder of Video_* folders.</param>
/// <param name="Device">auto, cpu or cuda.</param>
/// <param name="Clips">Clips per video (null: the template's num_clips).</param>
/// <param name="Crops">1 (centre crop) or 3 (three crops along the long side).</param>
/// <param name="ReverseTime">Reverse every clip's frames (the whole evaluation), for by-hand checks.</param>
/// <param name="Workers">Loader threads.</param>
/// <param name="TimeReversalCheck">Also score the time-reversed pairs' videos reversed (when the dataset has such pairs).</param>
public sealed record EvaluationRequest(string WeightsPath, string TestRoot, string Device = "auto", int? Clips = null,
    int Crops = 1, bool ReverseTime = false, int Workers = 2, bool TimeReversalCheck = true);

/// <summary>
/// The reference's <c>otx eval</c>: scores every test video with the preprocessing the model was trained with
/// (one definition for every runtime), averaging the softmax of its views, and reports frame-wise accuracy and the
/// video-wise figures. On a dataset with time-reversed class pairs it also runs the time-reversal check.
/// </summary>
public static class Evaluator
{
    public static PerformanceReport Evaluate(EvaluationRequest request, IProgress<WorkProgress>? progress, CancellationToken cancellationToken)
    {
        using var model = VideoClassifier.Open(request.WeightsPath, request.Device);
        var names = model.Labels.Names;
        var dataset = CvatDataset.Open(request.TestRoot);
        var unknown = dataset.Labels.Except(names).ToList();
        if (unknown.Count > 0)
            throw new TrainingException($"{request.TestRoot}: labels {string.Join(", ", unknown)} are not among the model's classes "
                + $"({string.Join(", ", names)}, from {Path.Combine(Path.GetDirectoryName(Path.GetFullPath(request.WeightsPath))!, LabelSchema.FileName)}); "
                + "evaluate with weights trained on the same label set.");
        var videos = LabeledVideo.FromCvat(dataset, names);
        var preprocessing = model.Preprocessing(request.Clips, request.Crops);
        var probabilities = Score(model, videos, preprocessing, request.ReverseTime, request.Workers, "evaluating", progress, cancellationToken);
        var labels = videos.Select(v => v.Label).ToList();
        var metrics = ClassificationMetrics.Compute(probabilities, labels, [.. videos.Select(v => v.Frames.Count)], names);
        var data = model.Template.Data;
        return new PerformanceReport
        {
            Accuracy = metrics.FrameAccuracy,
            VideoTop1 = metrics.Top1,
            VideoTop5 = metrics.Top5,
            MeanClassAccuracy = metrics.MeanClassAccuracy,
            Videos = metrics.Videos,
            Frames = metrics.Frames,
            PerClass = metrics.PerClass,
            Confusion = new ConfusionReport(names, metrics.Confusion),
            Preprocessing = new PreprocessingReport(data.ClipLen, data.FrameInterval, preprocessing.NumClips, preprocessing.TestCrops,
                data.ShortSide, data.TestCropSize, data.Mean, data.Std, request.ReverseTime),
            Runtime = model.Runtime,
            TimeReversal = request.ReverseTime || !request.TimeReversalCheck ? null
                : TimeReversal(model, videos, names, preprocessing, request.Workers, progress, cancellationToken),
            Weights = request.WeightsPath,
            TestDataRoot = request.TestRoot,
        };
    }

    static double[][] Score(VideoClassifier model, IReadOnlyList<LabeledVideo> videos, ClipPreprocessing preprocessing, bool reverseTime,
        int workers, string description, IProgress<WorkProgress>? progress, CancellationToken cancellationToken)
    {
        using var loader = new ClipLoader(videos, preprocessing, new ClipLoaderOptions
        {
            Mode = ClipMode.Test,
            BatchSize = 8,
            Workers = workers,
            ReverseTime = reverseTime,
        });
        return VideoScorer.Score(model.Logits, model.Labels.Names.Count, loader.ReadEpoch(0, cancellationToken), loader.BatchesPerEpoch,
            videos.Count, description, progress);
    }

    // The synthetic dataset's reversed pairs (move_up/move_down, ...) that this model knows both classes of.
    static TimeReversalReport? TimeReversal(VideoClassifier model, IReadOnlyList<LabeledVideo> videos, IReadOnlyList<string> names,
        ClipPreprocessing preprocessing, int workers, IProgress<WorkProgress>? progress, CancellationToken cancellationToken)
    {
        var partner = new Dictionary<int, int>();
        foreach (var (forward, reversed) in SyntheticDataset.ReversedPairs)
        {
            int a = IndexOf(names, forward), b = IndexOf(names, reversed);
            if (a >= 0 && b >= 0)
                (partner[a], partner[b]) = (b, a);
        }
        var paired = videos.Where(v => partner.ContainsKey(v.Label)).ToList();
        if (paired.Count == 0)
            return null;
        var probabilities = Score(model, paired, preprocessing, reverseTime: true, workers, "time-reversal check", progress, cancellationToken);
        var predicted = probabilities.Select(p => ClassificationMetrics.Ranking(p)[0]).ToList();
        return new TimeReversalReport(
            [.. partner.Keys.Order().Select(k => names[k])],
            paired.Count,
            paired.Where((v, i) => predicted[i] == v.Label).Count() / (double)paired.Count,
            paired.Where((v, i) => predicted[i] == partner[v.Label]).Count() / (double)paired.Count);
    }

    static int IndexOf(IReadOnlyList<string> names, string name)
    {
        for (int i = 0; i < names.Count; i++)
            if (names[i] == name)
                return i;
        return -1;
    }
}
