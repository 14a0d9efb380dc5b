using System.Diagnostics;
using System.Security.Cryptography;

namespace ActionKit.Data.Tests;

/// <summary>Decoding through our own ffmpeg process: every frame, the same bytes every time, however many videos
/// decode at once; variable frame rates and odd sizes; a count that disagrees with ffprobe is an error.</summary>
[Collection(FfmpegCollection.Name)]
public sealed class VideoDecodingTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>Writes a test video with the ffmpeg command line (lavfi's test pattern), as other tools would.</summary>
    internal static string MakeVideo(string path, string size, int frames, string codec = "mpeg4", string? filter = null)
    {
        List<string> arguments = ["-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i", $"testsrc=size={size}:rate=25",
            "-frames:v", frames.ToString(System.Globalization.CultureInfo.InvariantCulture), "-c:v", codec];
        if (filter is not null)
        {
            arguments.AddRange(["-vf", filter, "-fps_mode", "vfr"]);
        }
        arguments.Add(path);
        var start = new ProcessStartInfo("ffmpeg") { RedirectStandardError = true };
        arguments.ForEach(start.ArgumentList.Add);
        using Process process = Process.Start(start)!;
        string errors = process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, $"ffmpeg could not write {path}: {errors}");
        return path;
    }

    private static string Digest(IReadOnlyList<RgbFrame> frames)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (RgbFrame frame in frames)
        {
            sha.AppendData(frame.Pixels);
        }
        return Convert.ToHexStringLower(sha.GetHashAndReset());
    }

    [Fact]
    public void ParallelDecodesAreCompleteAndByteIdentical()
    {
        string[] videos =
        [
            MakeVideo(_dir.Combine("hmdb-like.avi"), "160x120", 32),
            MakeVideo(_dir.Combine("odd.avi"), "161x121", 17),
            MakeVideo(_dir.Combine("mjpeg.avi"), "96x72", 24, codec: "mjpeg"),
            MakeVideo(_dir.Combine("h264.mkv"), "64x48", 30, codec: "libx264"),
        ];
        VideoInfo[] infos = [.. videos.Select(video => VideoFiles.Probe(video))];
        Assert.Equal([new(160, 120, 32), new(161, 121, 17), new(96, 72, 24), new(64, 48, 30)], infos);
        string[] expected = [.. videos.Select((video, i) => Digest(VideoFiles.Decode(video, infos[i], default)))];

        const int Rounds = 50;
        var digests = new string[Rounds * videos.Length];
        Parallel.For(0, digests.Length, new ParallelOptions { MaxDegreeOfParallelism = 8 }, i =>
        {
            int video = i % videos.Length;
            digests[i] = Digest(VideoFiles.Decode(videos[video], infos[video], default));
        });
        for (int i = 0; i < digests.Length; i++)
        {
            Assert.True(expected[i % videos.Length] == digests[i], $"decode {i} of {videos[i % videos.Length]} differs");
        }
    }

    [Fact]
    public void VariableFrameRateKeepsEveryDecodedFrameOnce()
    {
        // Frames 10-19 arrive half a second late and frames 20-29 at twice the rate: a constant-rate output
        // would duplicate or drop frames; passthrough keeps the 30 the decoder puts out.
        string path = MakeVideo(_dir.Combine("vfr.mkv"), "161x121", 30,
            filter: "setpts='(N+if(gte(N,10),12,0)-if(gte(N,20),(N-20)/2,0))/25/TB'");
        VideoInfo info = VideoFiles.Probe(path);
        Assert.Equal(new VideoInfo(161, 121, 30), info);
        IReadOnlyList<RgbFrame> frames = VideoFiles.Decode(path);
        Assert.Equal(30, frames.Count);
        Assert.All(frames, frame => Assert.Equal((161, 121), (frame.Width, frame.Height)));
        Assert.Equal(30, frames.Select(frame => Convert.ToHexString(SHA256.HashData(frame.Pixels))).Distinct().Count());
    }

    [Fact]
    public void FrameCountOtherThanFfprobesIsAnErrorNamingTheFile()
    {
        string path = MakeVideo(_dir.Combine("v.avi"), "32x24", 8);
        VideoInfo info = VideoFiles.Probe(path);
        var fewer = Assert.Throws<DatasetFormatException>(() => VideoFiles.Decode(path, info with { Frames = 9 }, default));
        Assert.Equal($"{path}: video decoded to 8 frames of 32x24, ffprobe counts 9 frames", fewer.Message);
        var more = Assert.Throws<DatasetFormatException>(() => VideoFiles.Decode(path, info with { Frames = 7 }, default));
        Assert.Equal($"{path}: video decoded to more than 7 frames of 32x24, ffprobe counts 7 frames", more.Message);
    }

    [Fact]
    public void CancellingADecodeStopsFfmpeg()
    {
        string path = MakeVideo(_dir.Combine("v.avi"), "160x120", 32);
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();
        Assert.ThrowsAny<OperationCanceledException>(() => VideoFiles.Decode(path, VideoFiles.Probe(path), cancelled.Token));
    }
}
