using ActionKit.Data;
using ActionKit.Data.Loading;
using ActionKit.Engine;

namespace ActionKit.Pipeline.Evaluation;

/// <summary>
/// Runs a network in evaluation mode over test-mode batches and averages the softmax scores of each video's views
/// (mmaction2's multi-view testing: clips x crops), giving one probability vector per video.
/// </summary>
public static class VideoScorer
{
    /// <summary>Probabilities [video][class] of videos 0..<paramref name="videoCount"/>-1 from test-mode
    /// <paramref name="batches"/> (a loader's epoch, or one video's views) scored by <paramref name="logits"/> (a batch's
    /// logits [rows, classes]); progress counts batches of <paramref name="batchCount"/>.</summary>
    public static double[][] Score(Func<ClipBatch, float[]> logits, int classes, IEnumerable<ClipBatch> batches, int batchCount,
        int videoCount, string description, IProgress<WorkProgress>? progress)
    {
        var sums = new double[videoCount][];
        var views = new int[videoCount];
        int done = 0;
        foreach (var batch in batches)
        {
            var probabilities = Softmax(logits(batch), classes);
            for (int row = 0; row < batch.Count; row++)
            {
                int video = batch.VideoIndices[row];
                sums[video] ??= new double[classes];
                for (int k = 0; k < classes; k++)
                    sums[video][k] += probabilities[row * classes + k];
                views[video]++;
            }
            progress?.Report(new WorkProgress(description, ++done, batchCount));
        }
        for (int video = 0; video < videoCount; video++)
        {
            if (sums[video] is null)
                throw new InvalidOperationException($"video {video} received no views from the loader");
            for (int k = 0; k < classes; k++)
                sums[video][k] /= views[video];
        }
        return sums;
    }

    // Row-wise softmax of logits [rows, classes], in double.
    static double[] Softmax(float[] logits, int classes)
    {
        var result = new double[logits.Length];
        for (int row = 0; row < logits.Length / classes; row++)
        {
            var z = logits.AsSpan(row * classes, classes);
            double max = double.NegativeInfinity, sum = 0;
            foreach (float v in z)
                max = Math.Max(max, v);
            for (int k = 0; k < classes; k++)
                sum += result[row * classes + k] = Math.Exp(z[k] - max);
            for (int k = 0; k < classes; k++)
                result[row * classes + k] /= sum;
        }
        return result;
    }
}

/// <summary>
/// Device tensors that hold the current batch, clips [N, T, H, W, 3] and int32 labels [N], each uploaded once per
/// batch and reallocated only when the batch shape changes.
/// </summary>
public sealed class BatchInput(IBackend backend) : IDisposable
{
    Tensor? clips, labels;

    public Tensor Load(ClipBatch batch)
    {
        var tensor = Reuse(ref clips, DType.Float32, batch.Shape);
        tensor.CopyFrom(batch.Data.AsSpan(0, (int)tensor.Length));
        return tensor;
    }

    /// <summary>The batch's class ids on the device; each must be below <paramref name="classes"/>.</summary>
    public Tensor Labels(ClipBatch batch, int classes)
    {
        foreach (int label in batch.Labels)
            if ((uint)label >= (uint)classes)
                throw new ArgumentOutOfRangeException(nameof(batch), $"Label {label} is outside [0, {classes}).");
        var tensor = Reuse(ref labels, DType.Int32, batch.Count);
        tensor.CopyFrom<int>(batch.Labels.AsSpan(0, batch.Count));
        return tensor;
    }

    Tensor Reuse(ref Tensor? tensor, DType type, params int[] shape)
    {
        if (tensor is null || !tensor.HasShape(shape))
        {
            tensor?.Dispose();
            tensor = backend.Allocate(type, shape);
        }
        return tensor;
    }

    public void Dispose()
    {
        clips?.Dispose();
        labels?.Dispose();
    }
}
