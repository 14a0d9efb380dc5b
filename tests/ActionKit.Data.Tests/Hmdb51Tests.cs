using ActionKit.Data.Hmdb51;

namespace ActionKit.Data.Tests;

public sealed class Hmdb51Tests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void SplitFilePathFollowsMmaction2Names()
    {
        Assert.Equal(Path.Combine("r", "hmdb51_train_split_1_rawframes.txt"),
            Hmdb51Layout.SplitFilePath("r", Hmdb51Subset.Train, 1, Hmdb51Source.Rawframes));
        Assert.Equal(Path.Combine("r", "hmdb51_val_split_3_videos.txt"),
            Hmdb51Layout.SplitFilePath("r", Hmdb51Subset.Val, 3, Hmdb51Source.Videos));
        Assert.Equal("img_00001.jpg", Hmdb51Layout.FrameFileName(0));
        Assert.Throws<ArgumentOutOfRangeException>(() =>
            Hmdb51Layout.SplitFilePath("r", Hmdb51Subset.Val, 4, Hmdb51Source.Videos));
    }

    [Fact]
    public void LabelMapReadsNamesInLineOrder()
    {
        string path = _dir.WriteText("label_map.txt", "brush_hair\ncartwheel\r\ncatch\n\n");
        Assert.Equal(["brush_hair", "cartwheel", "catch"], Hmdb51LabelMap.Read(path));
    }

    [Theory]
    [InlineData("", null, "empty")]
    [InlineData("a\n\nb\n", 2, "empty")]
    [InlineData("a\nb\na\n", 3, "duplicate class name 'a' (first on line 1)")]
    public void LabelMapErrorsNameFileAndLine(string text, int? line, string problem)
    {
        string path = _dir.WriteText("label_map.txt", text);
        var error = Assert.Throws<DatasetFormatException>(() => Hmdb51LabelMap.Read(path));
        Assert.Equal(path, error.FilePath);
        Assert.Equal(line, error.Line);
        Assert.StartsWith(line is null ? path + ": " : $"{path}:{line}: ", error.Message);
        Assert.Contains(problem, error.Message);
    }

    [Fact]
    public void MissingLabelMapIsAnError()
    {
        string path = _dir.Combine("label_map.txt");
        var error = Assert.Throws<DatasetFormatException>(() => Hmdb51LabelMap.Read(path));
        Assert.Equal($"{path}: label map not found; expected one class name a line", error.Message);
    }

    [Fact]
    public void SplitFileSkipsCommentsAndBlankLines()
    {
        string path = _dir.WriteText("split.txt", "# header\nbrush_hair/v_1 40 0\n\n  cartwheel/v_2\t33 1  \n");
        IReadOnlyList<Hmdb51Entry> entries = Hmdb51SplitFile.Read(path, Hmdb51Source.Rawframes, classCount: 2);
        Assert.Equal([new Hmdb51Entry("brush_hair/v_1", 40, 0, 2), new Hmdb51Entry("cartwheel/v_2", 33, 1, 4)], entries);
    }

    [Fact]
    public void VideoSplitFileHasNoFrameCount()
    {
        string path = _dir.WriteText("split.txt", "brush_hair/v_1.avi 0\n");
        Assert.Equal([new Hmdb51Entry("brush_hair/v_1.avi", null, 0, 1)],
            Hmdb51SplitFile.Read(path, Hmdb51Source.Videos, classCount: 1));
    }

    [Fact]
    public void SplitFileRoundTripsThroughWrite()
    {
        Hmdb51Entry[] entries = [new("a/x", 12, 0, 1), new("b/y", 7, 1, 2)];
        string path = _dir.Combine("split.txt");
        Hmdb51SplitFile.Write(path, entries, Hmdb51Source.Rawframes);
        Assert.Equal("a/x 12 0\nb/y 7 1\n", File.ReadAllText(path));
        Assert.Equal(entries, Hmdb51SplitFile.Read(path, Hmdb51Source.Rawframes, classCount: 2));
    }

    [Theory]
    [InlineData("a/x 12\n", 1, "expected 3 fields")]
    [InlineData("a/x 12 0 5\n", 1, "expected 3 fields")]
    [InlineData("# c\na/x twelve 0\n", 2, "frame count 'twelve' is not an integer")]
    [InlineData("a/x 12 zero\n", 1, "class index 'zero' is not an integer")]
    [InlineData("a/x -4 0\n", 1, "frame count -4 must be at least 1")]
    [InlineData("a/x 12 2\n", 1, "class index 2 is outside the label map (expected 0 to 1)")]
    [InlineData("a/x 12 -1\n", 1, "class index -1 is outside the label map")]
    [InlineData("a/x 12 0\nb/y 3 1\na/x 12 0\n", 3, "duplicate entry 'a/x' (first on line 1)")]
    public void SplitFileErrorsNameFileAndLine(string text, int line, string problem)
    {
        string path = _dir.WriteText("split.txt", text);
        var error = Assert.Throws<DatasetFormatException>(() =>
            Hmdb51SplitFile.Read(path, Hmdb51Source.Rawframes, classCount: 2));
        Assert.Equal(line, error.Line);
        Assert.StartsWith($"{path}:{line}: ", error.Message);
        Assert.Contains(problem, error.Message);
    }

    [Fact]
    public void MissingOrEmptySplitFileIsAnError()
    {
        string missing = _dir.Combine("none.txt");
        Assert.Contains("not found", Assert.Throws<DatasetFormatException>(() =>
            Hmdb51SplitFile.Read(missing, Hmdb51Source.Videos, 1)).Message);
        string empty = _dir.WriteText("empty.txt", "# only a comment\n");
        Assert.Equal($"{empty}: split file lists no videos", Assert.Throws<DatasetFormatException>(() =>
            Hmdb51SplitFile.Read(empty, Hmdb51Source.Videos, 1)).Message);
    }
}
