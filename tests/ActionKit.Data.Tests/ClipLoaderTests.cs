using ActionKit.Data.Cvat;
using ActionKit.Data.Loading;

namespace ActionKit.Data.Tests;

public sealed class ClipLoaderTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>Ten in-memory videos of 9-18 noisy 32x24 frames, labels 0-2.</summary>
    private static List<LabeledVideo> Videos()
    {
        var rng = new Xoshiro256(11);
        return
        [
            .. Enumerable.Range(0, 10).Select(v => new LabeledVideo(
                VideoFrames.FromDecodedFrames($"v{v}", [.. Enumerable.Range(0, 9 + v).Select(_ =>
                    ClipTransformTests.Filled(32, 24, (_, _, _) => (byte)rng.NextInt(256)))]),
                v % 3)),
        ];
    }

    private static List<ClipBatch> Epoch(ClipLoaderOptions options, int epoch, IReadOnlyList<LabeledVideo>? videos = null)
    {
        using var loader = new ClipLoader(videos ?? Videos(), ClipTransformTests.Small(), options);
        return [.. loader.ReadEpoch(epoch)];
    }

    private static void AssertSameBatches(List<ClipBatch> expected, List<ClipBatch> actual)
    {
        Assert.Equal(expected.Count, actual.Count);
        for (int b = 0; b < expected.Count; b++)
        {
            Assert.Equal(expected[b].Shape, actual[b].Shape);
            Assert.Equal(expected[b].VideoIndices, actual[b].VideoIndices);
            Assert.Equal(expected[b].Labels, actual[b].Labels);
            Assert.Equal(expected[b].Data, actual[b].Data);
        }
    }

    [Fact]
    public void TrainingBatchesDoNotDependOnWorkersPrefetchOrCache()
    {
        var train = new ClipLoaderOptions { Mode = ClipMode.Train, BatchSize = 4, Seed = 5 };
        List<ClipBatch> reference = Epoch(train with { Workers = 1, PrefetchBatches = 1 }, epoch: 2);
        AssertSameBatches(reference, Epoch(train with { Workers = 3, PrefetchBatches = 2 }, epoch: 2));
        AssertSameBatches(reference, Epoch(train with { Workers = 2, CacheFrames = true }, epoch: 2));
        Assert.Equal([4, 4, 2], reference.Select(batch => batch.Count));
        Assert.Equal(Enumerable.Range(0, 10), reference.SelectMany(batch => batch.VideoIndices).Order());
        List<ClipBatch> nextEpoch = Epoch(train, epoch: 3);
        Assert.NotEqual(reference.SelectMany(b => b.VideoIndices), nextEpoch.SelectMany(b => b.VideoIndices));
        Assert.NotEqual(reference[0].Data, Epoch(train with { Seed = 6 }, epoch: 2)[0].Data);
    }

    [Theory]
    [InlineData(4, 2)]
    [InlineData(8, 3)]
    [InlineData(10, 4)]
    public void ShardsOfAnEpochCoverEveryVideoOnceAndSplitEachGlobalBatchInOrder(int batchSize, int ranks)
    {
        var train = new ClipLoaderOptions { Mode = ClipMode.Train, BatchSize = batchSize, Seed = 5, DropLast = false };
        List<ClipBatch> whole = Epoch(train, epoch: 1);
        var shards = Enumerable.Range(0, ranks).Select(rank => Epoch(train with { Shard = new DataShard(rank, ranks) }, epoch: 1)).ToList();
        Assert.All(shards, shard => Assert.Equal(whole.Count, shard.Count));
        for (int b = 0; b < whole.Count; b++)
        {
            // Rank after rank, the parts of global batch b are that batch, clip for clip.
            var parts = shards.Select(shard => shard[b]).ToList();
            Assert.Equal(whole[b].VideoIndices, parts.SelectMany(part => part.VideoIndices));
            Assert.Equal(whole[b].Data, parts.SelectMany(part => part.Data));
        }
        Assert.Equal(Enumerable.Range(0, 10), shards.SelectMany(shard => shard.SelectMany(batch => batch.VideoIndices)).Order());
    }

    [Fact]
    public void DataShardsAreContiguousAndCoverEveryItemOnce()
    {
        foreach (int length in new[] { 0, 1, 5, 8, 81 })
            foreach (int count in new[] { 1, 2, 3, 7 })
            {
                var items = Enumerable.Range(0, length).ToArray();
                Assert.Equal(items, Enumerable.Range(0, count).SelectMany(index => items[new DataShard(index, count).Of(length)]));
            }
        Assert.Equal(new Range(4, 8), new DataShard(1, 2).Of(8));
    }

    [Fact]
    public void CachedFramesServeLaterEpochsUnchanged()
    {
        var train = new ClipLoaderOptions { Mode = ClipMode.Train, BatchSize = 3, Seed = 1, CacheFrames = true };
        using var loader = new ClipLoader(Videos(), ClipTransformTests.Small(), train);
        List<ClipBatch> first = [.. loader.ReadEpoch(0)];
        List<ClipBatch> again = [.. loader.ReadEpoch(0)];
        AssertSameBatches(first, again);
        AssertSameBatches(first, Epoch(train with { CacheFrames = false }, epoch: 0));
    }

    [Fact]
    public void TestModeKeepsDatasetOrderAndThePartialBatch()
    {
        List<ClipBatch> batches = Epoch(new ClipLoaderOptions { BatchSize = 4, DropLast = true }, epoch: 0);
        Assert.Equal(Enumerable.Range(0, 10), batches.SelectMany(batch => batch.VideoIndices));
        Assert.Equal(Enumerable.Range(0, 10).Select(v => v % 3), batches.SelectMany(batch => batch.Labels));
        Assert.Equal([2, 4, 16, 16, 3], batches[2].Shape);
        Assert.Equal(2 * 4 * 16 * 16 * 3, batches[2].Data.Length);
        var dropping = new ClipLoaderOptions { Mode = ClipMode.Train, BatchSize = 4, DropLast = true };
        Assert.Equal([4, 4], Epoch(dropping, epoch: 0).Select(batch => batch.Count));
    }

    [Fact]
    public void MultiViewTestingGivesConsecutiveViewsPerVideo()
    {
        using var loader = new ClipLoader(Videos(), ClipTransformTests.Small() with { NumClips = 2, TestCrops = 3 },
            new ClipLoaderOptions { BatchSize = 4 });
        Assert.Equal(6, loader.ViewsPerVideo);
        ClipBatch first = loader.ReadEpoch(0).First();
        Assert.Equal([24, 4, 16, 16, 3], first.Shape);
        Assert.Equal(Enumerable.Range(0, 4).SelectMany(v => Enumerable.Repeat(v, 6)), first.VideoIndices);
    }

    [Fact]
    public void PredictionViewsEqualEvaluationRows()
    {
        List<LabeledVideo> videos = Videos();
        ClipBatch evaluated = Epoch(new ClipLoaderOptions { BatchSize = 10 }, epoch: 0, videos)[0];
        ClipBatch predicted = ClipLoader.ReadVideo(videos[7].Frames, ClipTransformTests.Small());
        int values = 4 * 16 * 16 * 3;
        Assert.Equal(evaluated.Data.AsSpan(7 * values, values).ToArray(), predicted.Data);
        Assert.Equal([-1], predicted.Labels);
    }

    [Fact]
    public void CorruptFrameSurfacesNamingTheFile()
    {
        string[] paths = [.. Enumerable.Range(0, 12).Select(i => _dir.Combine($"{i:D5}.jpg"))];
        foreach (string path in paths)
        {
            JpegFrames.Encode(ClipTransformTests.Filled(32, 24, (x, y, c) => (byte)(x + y + c)), path);
        }
        // The centred clip of 12 frames reads frames 2, 4, 6, 8.
        File.WriteAllBytes(paths[6], File.ReadAllBytes(paths[6])[..200]);
        List<LabeledVideo> videos = [.. Videos(), new LabeledVideo(VideoFrames.FromFolder(_dir.Path), 0)];
        using var loader = new ClipLoader(videos, ClipTransformTests.Small(), new ClipLoaderOptions { BatchSize = 3 });
        var error = Assert.Throws<DatasetFormatException>(() => loader.ReadEpoch(0).ToList());
        Assert.Equal(paths[6], error.FilePath);
    }

    [Fact]
    public void AbandonedCancelledAndDisposedLoadersStop()
    {
        using var loader = new ClipLoader(Videos(), ClipTransformTests.Small(), new ClipLoaderOptions { BatchSize = 1 });
        Assert.Single(loader.ReadEpoch(0).Take(1));
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();
        Assert.ThrowsAny<OperationCanceledException>(() => loader.ReadEpoch(0, cancelled.Token).ToList());
        loader.Dispose();
        Assert.Throws<ObjectDisposedException>(() => loader.ReadEpoch(0).ToList());
    }

    [Fact]
    public void CvatVideosMapToTheModelsClasses()
    {
        foreach ((int index, string label) in new[] { (0, "b"), (1, "a") })
        {
            string folder = _dir.Combine("cvat", $"Video_{index}");
            Directory.CreateDirectory(Path.Combine(folder, "images"));
            JpegFrames.Encode(ClipTransformTests.Filled(32, 24, (_, _, _) => 9), Path.Combine(folder, "images", "00001.jpg"));
            CvatAnnotations.Write(Path.Combine(folder, "annotations.xml"), new CvatAnnotation(index, "v", label, 32, 24, ["00001.jpg"]));
        }
        CvatDataset dataset = CvatDataset.Open(_dir.Combine("cvat"));
        Assert.Equal([1, 0], LabeledVideo.FromCvat(dataset, ["a", "b"]).Select(video => video.Label));
        var error = Assert.Throws<DatasetFormatException>(() => LabeledVideo.FromCvat(dataset, ["a", "c"]));
        Assert.Equal(_dir.Combine("cvat", "Video_0", "annotations.xml"), error.FilePath);
        Assert.Equal(1, VideoFrames.Open(_dir.Combine("cvat", "Video_1")).Count);
    }
}
