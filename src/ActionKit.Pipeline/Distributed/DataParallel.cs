using System.Diagnostics;
using ActionKit.Data.Loading;
using ActionKit.Engine;
using ActionKit.Engine.Layers;
using ActionKit.Pipeline.Templates;
using ActionKit.Pipeline.Training;

namespace ActionKit.Pipeline.Distributed;

/// <summary>
/// The trainer's side of data parallelism over a communicator: each rank takes its contiguous part of every global
/// batch (the same shuffled order as one process) and of the validation videos; gradients are averaged across the
/// ranks once per step; BatchNorm statistics optionally too (sync_bn). One process passes through unchanged.
/// </summary>
public sealed class DataParallel(ICommunicator communicator)
{
    float[]? gradients;

    public ICommunicator Communicator => communicator;

    /// <summary>Rank 0 writes checkpoints, metrics and plots; the other ranks write nothing.</summary>
    public bool WritesOutputs => communicator.Rank == 0;

    /// <summary>This rank's part of every batch and of the validation videos.</summary>
    public DataShard Shard => new(communicator.Rank, communicator.Size);

    /// <summary>Time spent in collectives (waiting for the other ranks included).</summary>
    public TimeSpan CommunicationTime { get; private set; }

    /// <summary>Fails with a clear message when the run cannot be split over the ranks.</summary>
    public void Check(HyperParameters hp, int trainVideos, int valVideos)
    {
        int ranks = communicator.Size;
        if (ranks == 1)
            return;
        if (hp.BatchSize % ranks != 0)
            throw new TrainingException($"batch_size {hp.BatchSize} does not split over {ranks} ranks; use a multiple of {ranks} (--batch-size)");
        if (trainVideos < hp.BatchSize || valVideos < ranks)
            throw new TrainingException($"{ranks} ranks need at least one global batch of training videos ({hp.BatchSize}, have {trainVideos}) and a validation video per rank (have {valVideos})");
    }

    /// <summary>Sums per-channel BatchNorm statistics over the ranks when sync_bn is on and there is more than one rank.</summary>
    public BatchStatisticsReducer? BatchStatistics(bool syncBatchNorm) =>
        syncBatchNorm && communicator.Size > 1 ? Sum : null;

    /// <summary>
    /// The one exchange of a training step: every rank's gradients (of its part of the batch's mean loss) become
    /// their mean over the ranks, the gradient of the global batch's mean loss, identical on every rank.
    /// </summary>
    public void AverageGradients(ParameterStore parameters)
    {
        if (communicator.Size == 1)
            return;
        var all = parameters.Gradients;
        gradients ??= new float[all.Length];
        all.CopyTo(gradients);
        var clock = Stopwatch.StartNew();
        communicator.Sum(gradients);
        CommunicationTime += clock.Elapsed;
        float scale = 1f / communicator.Size;
        for (int i = 0; i < gradients.Length; i++)
            gradients[i] *= scale;
        all.CopyFrom(gradients);
    }

    /// <summary>Element-wise sums over the ranks (counts, losses, scores).</summary>
    public void Sum(double[] values)
    {
        var clock = Stopwatch.StartNew();
        communicator.Sum(values);
        CommunicationTime += clock.Elapsed;
    }

    /// <summary>
    /// Every video's scores [video][class] on every rank, from each rank's scores of its own videos
    /// (<see cref="Shard"/> of <paramref name="videoCount"/>); each video is scored by exactly one rank.
    /// </summary>
    public double[][] GatherScores(double[][] own, int videoCount, int classes)
    {
        if (communicator.Size == 1)
            return own;
        var flat = new double[videoCount * classes];
        int first = Shard.Of(videoCount).Start.Value;
        for (int v = 0; v < own.Length; v++)
            own[v].CopyTo(flat, (first + v) * classes);
        Sum(flat);
        return [.. flat.Chunk(classes)];
    }
}
