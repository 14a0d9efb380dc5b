using ActionKit.Data.Cvat;
using ActionKit.Data.Hmdb51;
using ActionKit.Data.Synthetic;

namespace ActionKit.Data.Tests;

/// <summary>A tiny synthetic HMDB51 dataset with rawframes and videos, generated once for the converter tests.</summary>
public sealed class TinyHmdb51 : IDisposable
{
    private readonly TempDirectory _dir = new();

    public TinyHmdb51() => SyntheticDataset.Generate(Root, SyntheticDatasetTests.Tiny with { Videos = true });

    public string Root => _dir.Combine("hmdb51");

    /// <summary>A private copy to break in one test.</summary>
    public void CopyTo(string destination)
    {
        foreach (string file in Directory.GetFiles(Root, "*", SearchOption.AllDirectories))
        {
            string target = Path.Combine(destination, Path.GetRelativePath(Root, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
    }

    public void Dispose() => _dir.Dispose();
}

[Collection(FfmpegCollection.Name)]
public sealed class Hmdb51ToCvatTests(TinyHmdb51 dataset) : IClassFixture<TinyHmdb51>, IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private string Cvat => _dir.Combine("cvat");

    private string CopyDataset()
    {
        string root = _dir.Combine("hmdb51");
        dataset.CopyTo(root);
        return root;
    }

    [Fact]
    public void RawframesAndVideosGiveTheSameVideosFramesLabelsAndActorBoxes()
    {
        ConversionSummary fromFrames = Hmdb51ToCvat.Convert(dataset.Root, 1, Hmdb51Source.Rawframes, _dir.Combine("a"));
        ConversionSummary fromVideos = Hmdb51ToCvat.Convert(dataset.Root, 1, Hmdb51Source.Videos, _dir.Combine("b"));
        Assert.Equal(SyntheticDataset.ClassNames, fromFrames.Labels);
        Assert.Equal((8, 8, 0), (fromFrames.Train.Videos, fromFrames.Valid.Videos, fromFrames.Train.Reused));
        Assert.Equal((fromFrames.Train.Frames, fromFrames.Valid.Frames), (fromVideos.Train.Frames, fromVideos.Valid.Frames));
        foreach (string subset in new[] { "train", "valid" })
        {
            CvatDataset frames = CvatDataset.Open(_dir.Combine("a", subset));
            CvatDataset videos = CvatDataset.Open(_dir.Combine("b", subset));
            Assert.Equal(frames.Videos.Select(Describe), videos.Videos.Select(Describe));
            Assert.Equal(SyntheticDataset.ClassNames, frames.Videos.Select(video => video.Label));
            RgbFrame viaJpeg = JpegFrames.Decode(frames.Videos[3].FramePaths[2]);
            RgbFrame viaVideo = JpegFrames.Decode(videos.Videos[3].FramePaths[2]);
            Assert.InRange(viaJpeg.Pixels.Zip(viaVideo.Pixels, (p, q) => Math.Abs(p - q)).Average(), 0, 6);
        }
        Assert.Equal(File.ReadAllBytes(Path.Combine(dataset.Root, "rawframes", "grow", "synth_grow_001", "img_00004.jpg")),
            File.ReadAllBytes(_dir.Combine("a", "train", "Video_2", "images", "00004.jpg")));

        CvatVideo boxedFromFrames = CvatDataset.Open(_dir.Combine("a", "valid")).Videos[2];
        CvatVideo boxedFromVideo = CvatDataset.Open(_dir.Combine("b", "valid")).Videos[2];
        string boxesFile = Path.Combine(dataset.Root, "rawframes", "grow", "synth_grow_002.boxes.txt");
        IReadOnlyList<FrameBox> expected = ActorBoxesFile.Read(boxesFile, boxedFromFrames.FramePaths.Count);
        Assert.NotEmpty(expected);
        // CVAT stores corners, the boxes file left, top, width and height: equal up to rounding.
        Assert.Equal(expected, boxedFromFrames.Boxes, SameBox);
        Assert.Equal(expected, boxedFromVideo.Boxes, SameBox);
    }

    [Fact]
    public void BoxOnAFrameTheVideoLacksFailsBeforeWriting()
    {
        string root = CopyDataset();
        string boxes = Path.Combine(root, "rawframes", "move_up", "synth_move_up_001.boxes.txt");
        File.AppendAllText(boxes, "99,1,1,1,4,4\n");
        var error = Assert.Throws<DatasetFormatException>(() => Hmdb51ToCvat.Convert(root, 1, Hmdb51Source.Rawframes, Cvat));
        Assert.Equal((boxes, File.ReadAllLines(boxes).Length), (error.FilePath, error.Line));
        Assert.Contains("frame 99 is not one of the video's frames", error.Message);
        Assert.False(Directory.Exists(Cvat));
    }

    private static bool SameBox(FrameBox a, FrameBox b) =>
        a.Frame == b.Frame && new[] { a.Box.Left - b.Box.Left, a.Box.Top - b.Box.Top, a.Box.Right - b.Box.Right, a.Box.Bottom - b.Box.Bottom }
            .All(d => Math.Abs(d) < 1e-9);

    private static string Describe(CvatVideo video) =>
        $"{video.Name} {video.TaskName} {video.Label} {video.FramePaths.Count} {video.Width}x{video.Height}";

    [Fact]
    public void RerunKeepsCompleteVideosAndRedoesBrokenOnes()
    {
        Hmdb51ToCvat.Convert(dataset.Root, 1, Hmdb51Source.Rawframes, Cvat);
        string broken = Path.Combine(Cvat, "valid", "Video_5");
        File.Delete(Path.Combine(broken, "images", "00002.jpg"));
        Directory.CreateDirectory(Path.Combine(Cvat, "train", "Video_1.tmp"));
        var reports = new List<WorkProgress>();
        ConversionSummary rerun = Hmdb51ToCvat.Convert(dataset.Root, 1, Hmdb51Source.Rawframes, Cvat,
            new SynchronousProgress(reports.Add));
        Assert.Equal((8, 7), (rerun.Train.Reused, rerun.Valid.Reused));
        Assert.Equal(new WorkProgress("Converting to CVAT", 1, 1), reports[^1]);
        Assert.Equal(CvatDataset.ReadVideo(broken).FramePaths.Count, CvatDataset.ReadVideo(broken).FramePaths.Count(File.Exists));
        Assert.Empty(Directory.GetDirectories(Cvat, "*.tmp", SearchOption.AllDirectories));
    }

    [Fact]
    public void MissingOrEmptyRootFailsNamingIt()
    {
        string missing = _dir.Combine("none");
        Assert.Equal($"{missing}: HMDB51 data root not found",
            Assert.Throws<DatasetFormatException>(() => Hmdb51ToCvat.Convert(missing, 1, Hmdb51Source.Rawframes, Cvat)).Message);
        string empty = _dir.Combine("empty");
        Directory.CreateDirectory(empty);
        Assert.Equal(empty, Assert.Throws<DatasetFormatException>(() =>
            Hmdb51ToCvat.Convert(empty, 1, Hmdb51Source.Rawframes, Cvat)).FilePath);
        Assert.False(Directory.Exists(Cvat));
    }

    [Theory]
    [InlineData("move_up/synth_move_up_001 7", 1, "expected 3 fields")]
    [InlineData("move_up/synth_move_up_001 seven 0", 1, "frame count 'seven' is not an integer")]
    [InlineData("move_up/synth_move_up_001 6 8", 1, "class index 8 is outside the label map")]
    public void BadSplitLineFailsBeforeWriting(string firstLine, int line, string problem)
    {
        string root = CopyDataset();
        string split = Hmdb51Layout.SplitFilePath(root, Hmdb51Subset.Train, 1, Hmdb51Source.Rawframes);
        string[] lines = File.ReadAllLines(split);
        lines[0] = firstLine;
        File.WriteAllLines(split, lines);
        AssertFailsAndWritesNothing(root, Hmdb51Source.Rawframes, split, line, problem);
    }

    [Fact]
    public void FolderWithFewerFramesThanItsSplitLineFailsBeforeWriting()
    {
        string root = CopyDataset();
        string split = Hmdb51Layout.SplitFilePath(root, Hmdb51Subset.Val, 1, Hmdb51Source.Rawframes);
        Hmdb51Entry entry = Hmdb51SplitFile.Read(split, Hmdb51Source.Rawframes, 8)[6];
        string folder = Hmdb51Layout.MediaPath(root, Hmdb51Source.Rawframes, entry.RelativePath);
        File.Delete(Path.Combine(folder, Hmdb51Layout.FrameFileName(entry.FrameCount!.Value - 1)));
        AssertFailsAndWritesNothing(root, Hmdb51Source.Rawframes, split, 7,
            $"has {entry.FrameCount - 1} img_ frames, the split line says {entry.FrameCount}");
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void CorruptOrTruncatedJpegFailsNamingItAndLeavesTheDestinationUnchanged(bool truncate)
    {
        string root = CopyDataset();
        Hmdb51ToCvat.Convert(root, 1, Hmdb51Source.Rawframes, Cvat);
        Directory.Delete(Path.Combine(Cvat, "valid", "Video_3"), recursive: true);
        Dictionary<string, byte[]> before = SyntheticDatasetTests.ReadTree(Cvat);
        string frame = Path.Combine(root, "rawframes", "shrink", "synth_shrink_002", "img_00003.jpg");
        byte[] bytes = File.ReadAllBytes(frame);
        if (truncate)
        {
            bytes = bytes[..(bytes.Length / 2)];
        }
        else
        {
            bytes.AsSpan(2, bytes.Length - 4).Fill(0x5A);
        }
        File.WriteAllBytes(frame, bytes);
        var error = Assert.Throws<DatasetFormatException>(() => Hmdb51ToCvat.Convert(root, 1, Hmdb51Source.Rawframes, Cvat));
        Assert.Equal(frame, error.FilePath);
        Assert.Contains(truncate ? "truncated JPEG" : "corrupt JPEG", error.Message);
        Dictionary<string, byte[]> after = SyntheticDatasetTests.ReadTree(Cvat);
        Assert.Equal(before.Keys.Order(), after.Keys.Order());
        Assert.All(before, file => Assert.Equal(file.Value, after[file.Key]));
    }

    [Fact]
    public void UnreadableVideoFailsBeforeWriting()
    {
        string root = CopyDataset();
        string video = Path.Combine(root, "videos", "move_up", "synth_move_up_001.avi");
        File.WriteAllText(video, "not a video");
        var error = Assert.Throws<DatasetFormatException>(() => Hmdb51ToCvat.Convert(root, 1, Hmdb51Source.Videos, Cvat));
        Assert.Equal(video, error.FilePath);
        Assert.False(Directory.Exists(Cvat));
    }

    [Fact]
    public void CancelledConversionWritesNothing()
    {
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();
        Assert.ThrowsAny<OperationCanceledException>(() =>
            Hmdb51ToCvat.Convert(dataset.Root, 1, Hmdb51Source.Rawframes, Cvat, null, cancelled.Token));
        Assert.False(Directory.Exists(Cvat));
    }

    private void AssertFailsAndWritesNothing(string root, Hmdb51Source source, string file, int line, string problem)
    {
        var error = Assert.Throws<DatasetFormatException>(() => Hmdb51ToCvat.Convert(root, 1, source, Cvat));
        Assert.Equal((file, line), (error.FilePath, error.Line));
        Assert.Contains(problem, error.Message);
        Assert.False(Directory.Exists(Cvat));
    }
}
