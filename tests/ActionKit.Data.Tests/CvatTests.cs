using System.Text;
using ActionKit.Data.Cvat;

namespace ActionKit.Data.Tests;

public sealed class CvatTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private static CvatAnnotation Sample(int frames) =>
        new(1, "v1", "brush_hair", 320, 240, [.. Enumerable.Range(0, frames).Select(CvatAnnotations.FrameFileName)]);

    [Fact]
    public void WritesTheReferenceStructureElementByElement()
    {
        string path = _dir.Combine("annotations.xml");
        CvatAnnotations.Write(path, Sample(2));
        const string expected = """
            <?xml version="1.0" encoding="utf-8"?>
            <annotations>
              <version>1.1</version>
              <meta>
                <task>
                  <id>1</id>
                  <name>v1</name>
                  <size>2</size>
                  <mode>interpolation</mode>
                  <overlap>2</overlap>
                  <bugtracker />
                  <created />
                  <updated />
                  <start_frame>0</start_frame>
                  <stop_frame>1</stop_frame>
                  <frame_filter>1</frame_filter>
                  <z_order>True</z_order>
                  <labels>
                    <label>
                      <name>brush_hair</name>
                      <attributes />
                    </label>
                  </labels>
                  <segments />
                  <original_size>
                    <width>320</width>
                    <height>240</height>
                  </original_size>
                </task>
              </meta>
              <image id="0" name="00001.jpg" width="320" height="240">
                <tag label="brush_hair" source="manual" />
              </image>
              <image id="1" name="00002.jpg" width="320" height="240">
                <tag label="brush_hair" source="manual" />
              </image>
            </annotations>
            """;
        byte[] bytes = File.ReadAllBytes(path);
        Assert.NotEqual(0xEF, bytes[0]); // no UTF-8 byte order mark
        Assert.Equal(expected, Encoding.UTF8.GetString(bytes));
    }

    [Fact]
    public void ReadsBackWhatItWrote()
    {
        string path = _dir.Combine("annotations.xml");
        CvatAnnotation written = Sample(12) with { TaskId = 7, TaskName = "April_09_brush_hair_u_nm_np1_ba_goo_0" };
        CvatAnnotations.Write(path, written);
        CvatAnnotation read = CvatAnnotations.Read(path);
        Assert.Equal(written with { FrameNames = [] }, read with { FrameNames = [] });
        Assert.Equal(written.FrameNames, read.FrameNames);
    }

    [Fact]
    public void ActorBoxesRoundTripAsCvatImageBoxes()
    {
        string path = _dir.Combine("annotations.xml");
        CvatAnnotation written = Sample(3) with
        {
            Boxes = [new(0, new(1.5, 2, 30.25, 40)), new(0, new(100, 20, 120.5, 44.75)), new(2, new(0, 0, 320, 240))],
        };
        CvatAnnotations.Write(path, written);
        Assert.Contains("""<box label="brush_hair" source="auto" occluded="0" xtl="1.5" ytl="2" xbr="30.25" ybr="40" z_order="0" />""",
            File.ReadAllText(path));
        Assert.Equal(written.Boxes, CvatAnnotations.Read(path).Boxes);

        File.WriteAllText(path, File.ReadAllText(path).Replace("xbr=\"30.25\"", "xbr=\"wide\""));
        var error = Assert.Throws<DatasetFormatException>(() => CvatAnnotations.Read(path));
        Assert.Contains("'xbr' of <box> is 'wide', expected a number", error.Message);
        Assert.NotNull(error.Line);
    }

    [Theory]
    [InlineData("<annotations><version>1.1</version>\n<meta>\n</annotations>", 3, "not well-formed XML")]
    [InlineData("<annotations>\n<meta/></annotations>", 2, "<meta> has no <task>")]
    [InlineData("<root/>", 1, "expected <annotations>")]
    public void MalformedXmlNamesFileAndLine(string xml, int line, string problem)
    {
        string path = _dir.WriteText("annotations.xml", xml);
        var error = Assert.Throws<DatasetFormatException>(() => CvatAnnotations.Read(path));
        Assert.Equal(line, error.Line);
        Assert.StartsWith($"{path}:{line}: ", error.Message);
        Assert.Contains(problem, error.Message);
    }

    [Fact]
    public void FrameWithoutTagIsAnError()
    {
        string path = _dir.Combine("annotations.xml");
        CvatAnnotations.Write(path, Sample(3));
        string[] lines = File.ReadAllLines(path);
        int tagLine = Array.FindLastIndex(lines, line => line.Contains("<tag "));
        File.WriteAllLines(path, lines.Where((_, i) => i != tagLine));
        var error = Assert.Throws<DatasetFormatException>(() => CvatAnnotations.Read(path));
        Assert.Equal(tagLine, error.Line); // the <image> line just above the removed <tag>
        Assert.Contains("image '00003.jpg' has no <tag>", error.Message);
    }

    [Fact]
    public void DatasetListsVideosInNaturalOrderWithLabels()
    {
        foreach ((int index, string label) in new[] { (10, "b"), (2, "a"), (0, "b") })
        {
            WriteVideo(_dir.Combine($"Video_{index}"), label, frames: 3);
        }
        Directory.CreateDirectory(_dir.Combine("Video_1.tmp"));
        CvatDataset dataset = CvatDataset.Open(_dir.Path);
        Assert.Equal(["Video_0", "Video_2", "Video_10"], dataset.Videos.Select(video => video.Name));
        Assert.Equal(["a", "b"], dataset.Labels);
        CvatVideo video = dataset.Videos[1];
        Assert.Equal(("a", 32, 24), (video.Label, video.Width, video.Height));
        Assert.Equal(_dir.Combine("Video_2", "images", "00003.jpg"), video.FramePaths[2]);
    }

    [Fact]
    public void MissingFrameFileIsAnError()
    {
        string folder = _dir.Combine("Video_0");
        WriteVideo(folder, "a", frames: 3);
        File.Delete(Path.Combine(folder, "images", "00002.jpg"));
        var error = Assert.Throws<DatasetFormatException>(() => CvatDataset.Open(_dir.Path));
        Assert.Equal(Path.Combine(folder, "annotations.xml"), error.FilePath);
        Assert.Contains("00002.jpg does not exist", error.Message);
    }

    [Fact]
    public void MissingOrEmptyRootIsAnErrorNamingIt()
    {
        string missing = _dir.Combine("nothing");
        Assert.Equal($"{missing}: CVAT data root not found",
            Assert.Throws<DatasetFormatException>(() => CvatDataset.Open(missing)).Message);
        Assert.Equal(_dir.Path,
            Assert.Throws<DatasetFormatException>(() => CvatDataset.Open(_dir.Path)).FilePath);
    }

    [Fact]
    public void NaturalOrderComparesDigitRunsAsNumbers()
    {
        string[] names = ["Video_10", "Video_2", "Video_1", "img_010", "img_9", "Video_02"];
        Assert.Equal(["Video_1", "Video_02", "Video_2", "Video_10", "img_9", "img_010"],
            names.Order(NaturalOrder.Instance));
    }

    private static void WriteVideo(string folder, string label, int frames)
    {
        string images = Path.Combine(folder, "images");
        Directory.CreateDirectory(images);
        var annotation = new CvatAnnotation(0, Path.GetFileName(folder), label, 32, 24,
            [.. Enumerable.Range(0, frames).Select(CvatAnnotations.FrameFileName)]);
        foreach (string name in annotation.FrameNames)
        {
            File.WriteAllBytes(Path.Combine(images, name), []);
        }
        CvatAnnotations.Write(Path.Combine(folder, "annotations.xml"), annotation);
    }
}
