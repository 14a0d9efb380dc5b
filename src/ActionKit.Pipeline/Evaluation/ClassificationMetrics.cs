namespace ActionKit.Pipeline.Evaluation;

/// <summary>One class's precision and recall (recall is the class's accuracy over its videos).</summary>
public sealed record ClassMetrics(string Label, int Videos, double Precision, double Recall);

/// <summary>
/// Video classification metrics the way the reference and mmaction2 report them: the reference's frame-wise
/// accuracy (each video's prediction counted once per frame, so long videos weigh more), video-wise top-1 and
/// top-5, mean class accuracy, per-class precision and recall, and the confusion matrix [true][predicted].
/// </summary>
public sealed record ClassificationMetrics(
    double FrameAccuracy,
    double Top1,
    double Top5,
    double MeanClassAccuracy,
    IReadOnlyList<ClassMetrics> PerClass,
    int[][] Confusion,
    int Videos,
    long Frames)
{
    /// <summary>Metrics of per-video probabilities against labels; <paramref name="frameCounts"/> weigh the frame-wise accuracy.</summary>
    public static ClassificationMetrics Compute(IReadOnlyList<double[]> probabilities, IReadOnlyList<int> labels,
        IReadOnlyList<int> frameCounts, IReadOnlyList<string> classNames)
    {
        int classes = classNames.Count, videos = probabilities.Count;
        if (videos == 0 || labels.Count != videos || frameCounts.Count != videos)
            throw new ArgumentException($"metrics need one label and frame count per video ({videos} videos, {labels.Count} labels, {frameCounts.Count} frame counts)");
        var confusion = Enumerable.Range(0, classes).Select(_ => new int[classes]).ToArray();
        long frames = 0, correctFrames = 0;
        int top1 = 0, top5 = 0;
        for (int v = 0; v < videos; v++)
        {
            var ranking = Ranking(probabilities[v]);
            int predicted = ranking[0];
            confusion[labels[v]][predicted]++;
            frames += frameCounts[v];
            if (predicted == labels[v])
            {
                top1++;
                correctFrames += frameCounts[v];
            }
            if (ranking.Take(5).Contains(labels[v]))
                top5++;
        }
        var perClass = Enumerable.Range(0, classes).Select(k =>
        {
            int actual = confusion[k].Sum(), predictedAs = confusion.Sum(row => row[k]);
            return new ClassMetrics(classNames[k], actual,
                predictedAs == 0 ? 0 : confusion[k][k] / (double)predictedAs,
                actual == 0 ? 0 : confusion[k][k] / (double)actual);
        }).ToList();
        var present = perClass.Where(c => c.Videos > 0).ToList();
        return new ClassificationMetrics(
            frames == 0 ? 0 : correctFrames / (double)frames,
            top1 / (double)videos,
            top5 / (double)videos,
            present.Average(c => c.Recall),
            perClass,
            confusion,
            videos,
            frames);
    }

    /// <summary>Class ids by decreasing probability; ties keep the lower id first, so results are deterministic.</summary>
    public static int[] Ranking(double[] probabilities) =>
        [.. Enumerable.Range(0, probabilities.Length).OrderByDescending(k => probabilities[k]).ThenBy(k => k)];
}
