namespace ActionKit.Data.Loading;

/// <summary>How a <see cref="ClipLoader"/> runs: mode, batch size, worker threads and how many batches they may
/// prepare ahead, the seed of all training randomness, and options for the last batch, caching and time reversal.</summary>
public sealed record ClipLoaderOptions
{
    public ClipMode Mode { get; init; } = ClipMode.Test;

    /// <summary>Videos per batch (a batch holds BatchSize x views-per-video rows).</summary>
    public int BatchSize { get; init; } = 8;

    public int Workers { get; init; } = 2;

    public int PrefetchBatches { get; init; } = 4;

    public ulong Seed { get; init; }

    /// <summary>Drop the last partial batch when training; testing always keeps it.</summary>
    public bool DropLast { get; init; }

    /// <summary>Keep every decoded, resized frame in memory after its first use (small datasets).</summary>
    public bool CacheFrames { get; init; }

    /// <summary>Reverse the frame order of every sampled clip (checks that a model uses time).</summary>
    public bool ReverseTime { get; init; }

    /// <summary>The part of every batch this loader yields (a rank's part of a data-parallel run's global batch).</summary>
    public DataShard Shard { get; init; } = DataShard.Whole;
}

/// <summary>Decodes and preprocesses clips on worker threads ahead of the consumer, through a bounded window of
/// batches, and yields them in a deterministic order: shuffled per epoch from the seed when training, each video's
/// randomness seeded by (seed, epoch, video index), so batches do not depend on thread timing or worker count.
/// A worker's exception (e.g. a corrupt frame, naming the file) is rethrown to the consumer.</summary>
public sealed class ClipLoader : IDisposable
{
    private readonly IReadOnlyList<LabeledVideo> _videos;
    private readonly ClipLoaderOptions _options;
    private readonly ClipBuilder _builder;
    private readonly CancellationTokenSource _disposed = new();

    public ClipLoader(IReadOnlyList<LabeledVideo> videos, ClipPreprocessing preprocessing, ClipLoaderOptions options)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(options.BatchSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.Workers, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.PrefetchBatches, 1);
        if (videos.Count == 0)
        {
            throw new ArgumentException("the loader needs at least one video", nameof(videos));
        }
        (_videos, _options) = (videos, options);
        _builder = new ClipBuilder(preprocessing, options.Mode, options.ReverseTime,
            options.CacheFrames ? [.. videos.Select(video => video.Frames.Count)] : null);
        int full = videos.Count / options.BatchSize;
        bool keepPartial = videos.Count % options.BatchSize != 0 && !(options.Mode == ClipMode.Train && options.DropLast);
        BatchesPerEpoch = full + (keepPartial ? 1 : 0);
    }

    public int BatchesPerEpoch { get; }

    /// <summary>Rows each video contributes to a batch.</summary>
    public int ViewsPerVideo => _builder.Views;

    /// <summary>The test-time views of one video (label -1), for prediction: the same preprocessing as evaluation.</summary>
    public static ClipBatch ReadVideo(VideoFrames video, ClipPreprocessing preprocessing, bool reverseTime = false)
    {
        var builder = new ClipBuilder(preprocessing, ClipMode.Test, reverseTime, null);
        var data = new float[builder.Views * builder.ValuesPerView];
        builder.Build(0, video, null, data);
        return new ClipBatch(data, builder.Views, builder.ClipLength, builder.Size,
            [.. Enumerable.Repeat(-1, builder.Views)], new int[builder.Views]);
    }

    /// <summary>The batches of one epoch. Workers start on the first MoveNext and stop when the enumeration ends,
    /// is abandoned (disposed), is cancelled, or the loader is disposed.</summary>
    public IEnumerable<ClipBatch> ReadEpoch(int epoch, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed.IsCancellationRequested, this);
        int[][] batches = PlanBatches(epoch);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _disposed.Token);
        using var prefetch = new Prefetcher<ClipBatch>(batches.Length, _options.Workers, _options.PrefetchBatches,
            b => BuildBatch(epoch, batches[b], stop.Token), stop);
        for (int b = 0; b < batches.Length; b++)
        {
            yield return prefetch.Take(b, stop.Token);
        }
    }

    public void Dispose()
    {
        if (!_disposed.IsCancellationRequested)
        {
            _disposed.Cancel();
        }
    }

    // Video indices of each batch (this shard's part of it): a seeded shuffle when training, dataset order when testing.
    private int[][] PlanBatches(int epoch)
    {
        int[] order = [.. Enumerable.Range(0, _videos.Count)];
        if (_options.Mode == ClipMode.Train)
        {
            var rng = new Xoshiro256(Xoshiro256.DeriveSeed(_options.Seed, epoch, -1));
            for (int i = order.Length - 1; i > 0; i--)
            {
                int j = rng.NextInt(i + 1);
                (order[i], order[j]) = (order[j], order[i]);
            }
        }
        return [.. order.Chunk(_options.BatchSize).Take(BatchesPerEpoch).Select(batch => batch[_options.Shard.Of(batch.Length)])];
    }

    private ClipBatch BuildBatch(int epoch, int[] videoIndices, CancellationToken cancellationToken)
    {
        int views = _builder.Views, values = _builder.ValuesPerView;
        var data = new float[videoIndices.Length * views * values];
        var labels = new int[videoIndices.Length * views];
        var rows = new int[videoIndices.Length * views];
        for (int i = 0; i < videoIndices.Length; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            int video = videoIndices[i];
            Xoshiro256? rng = _options.Mode == ClipMode.Train
                ? new Xoshiro256(Xoshiro256.DeriveSeed(_options.Seed, epoch, video))
                : null;
            _builder.Build(video, _videos[video].Frames, rng, data.AsSpan(i * views * values, views * values));
            labels.AsSpan(i * views, views).Fill(_videos[video].Label);
            rows.AsSpan(i * views, views).Fill(video);
        }
        return new ClipBatch(data, labels.Length, _builder.ClipLength, _builder.Size, labels, rows);
    }
}
