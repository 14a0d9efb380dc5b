using System.Numerics.Tensors;
using ActionKit.Data;
using ActionKit.Data.Cvat;
using ActionKit.Data.Loading;
using ActionKit.Export.Graph;
using ActionKit.Export.Quantization;
using ActionKit.Export.Runtime;
using ActionKit.Pipeline.Evaluation;

namespace ActionKit.Pipeline.Export;

/// <summary>A layer accuracy-aware mode put back in float, with how far its quantization moved the logits.</summary>
public sealed record RevertedLayer(string Name, double Sensitivity, double Top1After);

/// <summary>What accuracy-aware mode measured (top-1 on one centre clip per validation video) and which layers it reverted.</summary>
public sealed record AccuracyAwareReport(double MaxDrop, int Videos, double FloatTop1, double Int8Top1, double FinalTop1,
    IReadOnlyList<RevertedLayer> Reverted);

/// <summary>
/// POT's AccuracyAwareQuantization: when the INT8 graph's top-1 on the validation videos is more than MaxDrop below the
/// float graph's, the quantized layers are ranked by their effect on the logits (how much closer to the float logits
/// the INT8 graph comes with that layer alone in float) and put back in float, most sensitive first, one at a time,
/// until the drop is within MaxDrop (or every layer is float).
/// </summary>
public static class AccuracyAwareQuantization
{
    const int RankingClips = 32;

    public static (ModelGraph Graph, AccuracyAwareReport Report) Apply(ModelGraph original, QuantizationResult quantization, double maxDrop,
        VideoClassifier reference, string validationRoot, int workers, IProgress<WorkProgress>? progress, CancellationToken cancellationToken)
    {
        var clips = Clips(reference, validationRoot, workers, cancellationToken);
        int videos = clips.Sum(batch => batch.Count);
        var floatLogits = Logits(original, clips);
        double floatTop1 = Top1(floatLogits, clips), int8Top1 = Top1(Logits(quantization.Graph, clips), clips);
        var reverted = new List<RevertedLayer>();
        var graph = quantization.Graph;
        if (floatTop1 - int8Top1 <= maxDrop)
            return (graph, new AccuracyAwareReport(maxDrop, videos, floatTop1, int8Top1, int8Top1, reverted));

        // Ranking on the first clips: the mean |Δlogit| to the float graph with each layer alone reverted.
        var ranking = clips.TakeWhile((_, index) => index * clips[0].Count < RankingClips).ToList();
        double Distance(float[] logits) => MeanAbsoluteDifference(logits, floatLogits.AsSpan(0, logits.Length));
        double baseline = Distance(Logits(graph, ranking));
        var sensitivity = new List<(string Name, double Gain)>();
        foreach (var layer in quantization.Layers)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var alone = PostTrainingQuantizer.Revert(quantization.Graph, original, new HashSet<string> { layer.Name });
            sensitivity.Add((layer.Name, baseline - Distance(Logits(alone, ranking))));
            progress?.Report(new WorkProgress("ranking layers", sensitivity.Count, quantization.Layers.Count));
        }
        var names = new HashSet<string>();
        double top1 = int8Top1;
        foreach (var (name, gain) in sensitivity.OrderByDescending(entry => entry.Gain))
        {
            if (floatTop1 - top1 <= maxDrop)
                break;
            cancellationToken.ThrowIfCancellationRequested();
            names.Add(name);
            graph = PostTrainingQuantizer.Revert(quantization.Graph, original, names);
            top1 = Top1(Logits(graph, clips), clips);
            reverted.Add(new RevertedLayer(name, gain, top1));
            progress?.Report(new WorkProgress("reverting layers to float", reverted.Count, quantization.Layers.Count));
        }
        return (graph, new AccuracyAwareReport(maxDrop, videos, floatTop1, int8Top1, top1, reverted));
    }

    /// <summary>One centre clip per validation video, channels-last in pixels as the IR takes them, with the videos' labels.</summary>
    static List<ClipBatch> Clips(VideoClassifier model, string root, int workers, CancellationToken cancellationToken)
    {
        var videos = LabeledVideo.FromCvat(CvatDataset.Open(root), model.Labels.Names);
        using var loader = new ClipLoader(videos, model.Preprocessing(testClips: 1), new ClipLoaderOptions { Mode = ClipMode.Test, BatchSize = 8, Workers = workers });
        return [.. loader.ReadEpoch(0, cancellationToken).Select(batch => new ClipBatch(
            batch.Data.AsSpan(0, batch.Count * batch.ClipLength * batch.Size * batch.Size * ClipBatch.Channels).ToArray(),
            batch.Count, batch.ClipLength, batch.Size, [.. batch.Labels], [.. batch.VideoIndices]))];
    }

    static float[] Logits(ModelGraph graph, IReadOnlyList<ClipBatch> clips)
    {
        var executor = new GraphExecutor(graph);
        return [.. clips.SelectMany(batch => executor.RunChannelsLast(batch.Data, batch.Count))];
    }

    static double Top1(float[] logits, IReadOnlyList<ClipBatch> clips)
    {
        var labels = clips.SelectMany(batch => batch.Labels).ToArray();
        int classes = logits.Length / labels.Length, correct = 0;
        for (int row = 0; row < labels.Length; row++)
            correct += TensorPrimitives.IndexOfMax(logits.AsSpan(row * classes, classes)) == labels[row] ? 1 : 0;
        return correct / (double)labels.Length;
    }

    static double MeanAbsoluteDifference(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        var difference = new float[a.Length];
        TensorPrimitives.Subtract(a, b, difference);
        TensorPrimitives.Abs(difference, difference);
        return TensorPrimitives.Sum(difference) / Math.Max(1, a.Length);
    }
}
