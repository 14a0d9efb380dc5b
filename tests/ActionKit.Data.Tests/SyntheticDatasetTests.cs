using System.Collections.Concurrent;
using ActionKit.Data.Hmdb51;
using ActionKit.Data.Synthetic;

namespace ActionKit.Data.Tests;

public sealed class SyntheticDatasetTests : IDisposable
{
    internal static readonly SyntheticOptions Tiny = new()
    {
        VideosPerClass = 2,
        ValVideosPerClass = 1,
        MinFrames = 6,
        MaxFrames = 8,
        Width = 32,
        Height = 24,
    };

    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void SameSeedGivesByteIdenticalFilesAndAnotherSeedDiffers()
    {
        SyntheticDataset.Generate(_dir.Combine("a"), Tiny);
        SyntheticDataset.Generate(_dir.Combine("b"), Tiny);
        SyntheticDataset.Generate(_dir.Combine("c"), Tiny with { Seed = 3 });
        Dictionary<string, byte[]> a = ReadTree(_dir.Combine("a")), b = ReadTree(_dir.Combine("b"));
        Assert.Equal(a.Keys.Order(), b.Keys.Order());
        Assert.All(a, file => Assert.Equal(file.Value, b[file.Key]));
        Dictionary<string, byte[]> c = ReadTree(_dir.Combine("c"));
        string firstFrame = Path.Combine("rawframes", "move_up", "synth_move_up_001", "img_00001.jpg");
        Assert.NotEqual(a[firstFrame], c[firstFrame]);
        Assert.Equal(a["label_map.txt"], c["label_map.txt"]);
    }

    [Fact]
    public void WritesTheHmdb51Layout()
    {
        SyntheticSummary summary = SyntheticDataset.Generate(_dir.Path, Tiny);
        Assert.Equal(SyntheticDataset.ClassNames, Hmdb51LabelMap.Read(Hmdb51Layout.LabelMapPath(_dir.Path)));
        long frames = 0;
        foreach ((Hmdb51Subset subset, int expected) in
                 new[] { (Hmdb51Subset.Train, summary.TrainVideos), (Hmdb51Subset.Val, summary.ValVideos) })
        {
            string splitPath = Hmdb51Layout.SplitFilePath(_dir.Path, subset, 1, Hmdb51Source.Rawframes);
            IReadOnlyList<Hmdb51Entry> entries = Hmdb51SplitFile.Read(splitPath, Hmdb51Source.Rawframes, 8);
            Assert.Equal(expected, entries.Count);
            foreach (Hmdb51Entry entry in entries)
            {
                Assert.StartsWith(SyntheticDataset.ClassNames[entry.ClassIndex] + "/", entry.RelativePath);
                string folder = Hmdb51Layout.MediaPath(_dir.Path, Hmdb51Source.Rawframes, entry.RelativePath);
                string[] files = [.. Directory.GetFiles(folder).Select(Path.GetFileName).Order()!];
                Assert.Equal(Enumerable.Range(0, entry.FrameCount!.Value).Select(Hmdb51Layout.FrameFileName), files);
                Assert.InRange(entry.FrameCount.Value, Tiny.MinFrames, Tiny.MaxFrames);
                RgbFrame frame = JpegFrames.Decode(Path.Combine(folder, files[0]));
                Assert.Equal((32, 24), (frame.Width, frame.Height));
                frames += entry.FrameCount.Value;
            }
        }
        Assert.Equal((8, 8, frames), (summary.TrainVideos, summary.ValVideos, summary.Frames));
        Assert.False(File.Exists(Hmdb51Layout.SplitFilePath(_dir.Path, Hmdb51Subset.Train, 1, Hmdb51Source.Videos)));
    }

    [Fact]
    public void ActorBoxesHoldTheBrightActorsOfEveryFrame()
    {
        SyntheticDataset.Generate(_dir.Path, Tiny with { Width = 96, Height = 72 });
        foreach (string boxesFile in Directory.GetFiles(Path.Combine(_dir.Path, "rawframes"), "*.boxes.txt", SearchOption.AllDirectories))
        {
            string folder = boxesFile[..^".boxes.txt".Length];
            int frameCount = Directory.GetFiles(folder).Length;
            var boxes = ActorBoxesFile.Read(boxesFile, frameCount).ToLookup(b => b.Frame, b => b.Box);
            for (int frame = 0; frame < frameCount; frame++)
            {
                Assert.InRange(boxes[frame].Count(), 1, 2);
                RgbFrame image = JpegFrames.Decode(Path.Combine(folder, Hmdb51Layout.FrameFileName(frame)));
                (double inside, double outside) = MeanBrightness(image, boxes[frame]);
                Assert.True(inside > outside + 30, $"{boxesFile} frame {frame + 1}: inside the boxes {inside:F0}, outside {outside:F0}");
            }
        }
    }

    private static (double Inside, double Outside) MeanBrightness(RgbFrame image, IEnumerable<BoundingBox> frameBoxes)
    {
        BoundingBox[] boxes = [.. frameBoxes];
        double inside = 0, outside = 0;
        int insideCount = 0;
        for (int y = 0; y < image.Height; y++)
        {
            for (int x = 0; x < image.Width; x++)
            {
                int i = (y * image.Width + x) * 3;
                double level = (image.Pixels[i] + image.Pixels[i + 1] + image.Pixels[i + 2]) / 3.0;
                if (Array.Exists(boxes, box => box.Contains(x + 0.5, y + 0.5)))
                {
                    inside += level;
                    insideCount++;
                }
                else
                {
                    outside += level;
                }
            }
        }
        return (inside / insideCount, outside / (image.Width * image.Height - insideCount));
    }

    [Fact]
    public void ReportsProgressPerVideoAndStopsWhenCancelled()
    {
        var reports = new ConcurrentBag<WorkProgress>();
        SyntheticDataset.Generate(_dir.Combine("a"), Tiny, new SynchronousProgress(reports.Add));
        Assert.Equal(16, reports.Count);
        Assert.Contains(reports, report => report.Completed == 16 && report.Total == 16);
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();
        Assert.ThrowsAny<OperationCanceledException>(() =>
            SyntheticDataset.Generate(_dir.Combine("b"), Tiny, null, cancelled.Token));
    }

    [Fact]
    public void RejectsOptionsItCannotHonour()
    {
        Assert.Throws<ArgumentException>(() => SyntheticDataset.Generate(_dir.Path, Tiny with { ValVideosPerClass = 2 }));
        Assert.Throws<ArgumentException>(() => SyntheticDataset.Generate(_dir.Path, Tiny with { MinFrames = 9 }));
        Assert.Throws<ArgumentException>(() => SyntheticDataset.Generate(_dir.Path, Tiny with { Width = 8 }));
    }

    [Fact]
    public void ReversedPairsNameKnownClasses()
    {
        Assert.True(SyntheticDataset.ClassNames.Count >= 8);
        Assert.Equal([("move_up", "move_down"), ("grow", "shrink"), ("apart", "together")], SyntheticDataset.ReversedPairs);
    }

    internal static Dictionary<string, byte[]> ReadTree(string root) =>
        Directory.GetFiles(root, "*", SearchOption.AllDirectories)
            .ToDictionary(path => Path.GetRelativePath(root, path), File.ReadAllBytes);
}

/// <summary>Reports on the calling thread (Progress&lt;T&gt; would post to the thread pool).</summary>
internal sealed class SynchronousProgress(Action<WorkProgress> report) : IProgress<WorkProgress>
{
    public void Report(WorkProgress value) => report(value);
}
