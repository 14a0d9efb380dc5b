namespace ActionKit.Data.Tests;

[Collection(FfmpegCollection.Name)]
public sealed class FrameCodecTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>A smooth colour ramp, which JPEG and MJPEG keep to within a few levels.</summary>
    internal static RgbFrame Ramp(int width, int height, int shift)
    {
        var pixels = new byte[width * height * 3];
        for (int y = 0; y < height; y++)
        {
            for (int x = 0; x < width; x++)
            {
                int i = (y * width + x) * 3;
                pixels[i] = (byte)(x * 255 / width);
                pixels[i + 1] = (byte)(y * 255 / height);
                pixels[i + 2] = (byte)(40 + shift * 10);
            }
        }
        return new RgbFrame(width, height, pixels);
    }

    internal static int MaxDifference(RgbFrame a, RgbFrame b) =>
        a.Pixels.Zip(b.Pixels, (p, q) => Math.Abs(p - q)).Max();

    [Fact]
    public void JpegRoundTripKeepsSizeAndColours()
    {
        RgbFrame frame = Ramp(40, 30, 3);
        string path = _dir.Combine("f.jpg");
        JpegFrames.Encode(frame, path);
        RgbFrame decoded = JpegFrames.Decode(path);
        Assert.Equal((40, 30), (decoded.Width, decoded.Height));
        Assert.InRange(MaxDifference(frame, decoded), 0, 12);
    }

    [Fact]
    public void TruncatedJpegFailsNamingTheFile()
    {
        string path = _dir.Combine("f.jpg");
        JpegFrames.Encode(Ramp(40, 30, 0), path);
        byte[] bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..(bytes.Length * 2 / 3)]);
        var error = Assert.Throws<DatasetFormatException>(() => JpegFrames.Decode(path));
        Assert.Equal(path, error.FilePath);
        Assert.Contains("truncated JPEG", error.Message);
    }

    [Fact]
    public void CorruptJpegWithIntactMarkersFailsNamingTheFile()
    {
        string path = _dir.Combine("f.jpg");
        JpegFrames.Encode(Ramp(40, 30, 0), path);
        byte[] bytes = File.ReadAllBytes(path);
        // Keep the start and end markers, replace every segment in between with junk.
        bytes.AsSpan(2, bytes.Length - 4).Fill(0x5A);
        File.WriteAllBytes(path, bytes);
        var error = Assert.Throws<DatasetFormatException>(() => JpegFrames.Decode(path));
        Assert.StartsWith($"{path}: corrupt JPEG", error.Message);
    }

    [Fact]
    public void NonJpegAndMissingFilesFailNamingTheFile()
    {
        string text = _dir.WriteText("f.jpg", "hello, not an image");
        Assert.Contains("not a JPEG file", Assert.Throws<DatasetFormatException>(() => JpegFrames.Decode(text)).Message);
        string missing = _dir.Combine("none.jpg");
        Assert.Equal($"{missing}: frame file not found",
            Assert.Throws<DatasetFormatException>(() => JpegFrames.Decode(missing)).Message);
    }

    [Fact]
    public void VideoRoundTripKeepsEveryFrame()
    {
        RgbFrame[] frames = [.. Enumerable.Range(0, 7).Select(i => Ramp(32, 24, i))];
        string path = _dir.Combine("v.avi");
        VideoFiles.Encode(frames, path);
        Assert.Equal(new VideoInfo(32, 24, 7), VideoFiles.Probe(path));
        IReadOnlyList<RgbFrame> decoded = VideoFiles.Decode(path);
        Assert.Equal(frames.Length, decoded.Count);
        for (int i = 0; i < frames.Length; i++)
        {
            Assert.InRange(MaxDifference(frames[i], decoded[i]), 0, 16);
        }
    }

    [Fact]
    public void VideoEncodingIsReproducible()
    {
        RgbFrame[] frames = [.. Enumerable.Range(0, 3).Select(i => Ramp(32, 24, i))];
        VideoFiles.Encode(frames, _dir.Combine("a.avi"));
        VideoFiles.Encode(frames, _dir.Combine("b.avi"));
        Assert.Equal(File.ReadAllBytes(_dir.Combine("a.avi")), File.ReadAllBytes(_dir.Combine("b.avi")));
    }

    [Fact]
    public void UnreadableVideoFailsNamingTheFile()
    {
        string path = _dir.WriteText("v.avi", "this is not a video");
        var error = Assert.Throws<DatasetFormatException>(() => VideoFiles.Decode(path));
        Assert.Equal(path, error.FilePath);
        Assert.Contains("not a readable video", error.Message);
        string jpeg = _dir.Combine("still.jpg");
        JpegFrames.Encode(Ramp(32, 24, 0), jpeg);
        Assert.Equal(jpeg, Assert.Throws<DatasetFormatException>(() => VideoFiles.Decode(jpeg)).FilePath);
    }

    [Fact]
    public void MissingFfmpegSaysHowToInstallIt()
    {
        string? path = Environment.GetEnvironmentVariable("PATH");
        try
        {
            Environment.SetEnvironmentVariable("PATH", _dir.Path);
            var error = Assert.Throws<MissingToolException>(() => VideoFiles.Probe("v.avi"));
            Assert.Equal("ffmpeg was not found on PATH; install it with `apt-get install ffmpeg`.", error.Message);
        }
        finally
        {
            Environment.SetEnvironmentVariable("PATH", path);
        }
    }
}

/// <summary>Tests that run ffmpeg, or change PATH, never run at the same time.</summary>
[CollectionDefinition(Name)]
public sealed class FfmpegCollection
{
    public const string Name = "ffmpeg";
}
