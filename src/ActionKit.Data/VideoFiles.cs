using FFMpegCore;
using FFMpegCore.Exceptions;
using FFMpegCore.Pipes;

namespace ActionKit.Data;

/// <summary>Decodes video files to RGB frames and encodes frame sequences to MJPEG .avi, through FFMpegCore
/// and the ffmpeg/ffprobe programs on PATH.</summary>
public static class VideoFiles
{
    public const double DefaultFramesPerSecond = 30;

    /// <summary>Frame size of the first video stream; an unreadable or non-video file is a
    /// <see cref="DatasetFormatException"/> naming it.</summary>
    public static (int Width, int Height) Probe(string path)
    {
        RequireFfmpeg();
        if (!File.Exists(path))
        {
            throw new DatasetFormatException(path, "video file not found");
        }
        IMediaAnalysis analysis;
        try
        {
            analysis = FFProbe.Analyse(path);
        }
        catch (Exception error) when (error is FFMpegException or FFProbeException or FFProbeProcessException
                                          or FormatException or System.Text.Json.JsonException)
        {
            throw new DatasetFormatException(path, $"not a readable video: {error.Message}", error);
        }
        string container = analysis.Format.FormatName;
        if (container == "image2" || container.EndsWith("_pipe", StringComparison.Ordinal))
        {
            throw new DatasetFormatException(path, $"not a video: ffprobe reads it as a still image ({container})");
        }
        VideoStream? stream = analysis.PrimaryVideoStream;
        if (stream is not { Width: > 0, Height: > 0 })
        {
            throw new DatasetFormatException(path, "not a readable video: no video stream with a frame size");
        }
        return (stream.Width.Value, stream.Height.Value);
    }

    /// <summary>Every frame of the first video stream, in order, as RGB24.</summary>
    public static IReadOnlyList<RgbFrame> Decode(string path, CancellationToken cancellationToken = default) =>
        Decode(path, Probe(path), cancellationToken);

    /// <summary>As <see cref="Decode(string, CancellationToken)"/> for a video already probed.</summary>
    internal static IReadOnlyList<RgbFrame> Decode(string path, (int Width, int Height) size,
        CancellationToken cancellationToken)
    {
        (int width, int height) = size;
        using var raw = new MemoryStream();
        try
        {
            FFMpegArguments.FromFileInput(path)
                .OutputToPipe(new StreamPipeSink(raw), options => options
                    .WithCustomArgument("-map 0:v:0 -fps_mode passthrough -pix_fmt rgb24 -f rawvideo"))
                .CancellableThrough(cancellationToken)
                .ProcessSynchronously(throwOnError: true);
        }
        catch (FFMpegException error)
        {
            throw new DatasetFormatException(path, $"video could not be decoded: {error.Message}", error);
        }
        cancellationToken.ThrowIfCancellationRequested();
        int frameBytes = width * height * 3;
        if (raw.Length == 0 || raw.Length % frameBytes != 0)
        {
            throw new DatasetFormatException(path,
                $"video decoded to {raw.Length} bytes, not a positive multiple of one {width}x{height} RGB frame");
        }
        byte[] all = raw.GetBuffer();
        var frames = new RgbFrame[raw.Length / frameBytes];
        for (int i = 0; i < frames.Length; i++)
        {
            frames[i] = new RgbFrame(width, height, all.AsSpan(i * frameBytes, frameBytes).ToArray());
        }
        return frames;
    }

    /// <summary>Writes the frames (all of one size) as an MJPEG .avi at high quality; the output is bit-exact,
    /// so the same frames give the same file.</summary>
    public static void Encode(IReadOnlyList<RgbFrame> frames, string path, double framesPerSecond = DefaultFramesPerSecond)
    {
        RequireFfmpeg();
        if (frames.Count == 0 || frames.Any(frame => frame.Width != frames[0].Width || frame.Height != frames[0].Height))
        {
            throw new ArgumentException("a video needs at least one frame, all of one size", nameof(frames));
        }
        var source = new RawVideoPipeSource(frames.Select(frame => new PipeFrame(frame))) { FrameRate = framesPerSecond };
        FFMpegArguments.FromPipeInput(source)
            .OutputToFile(path, overwrite: true, options => options
                .WithCustomArgument("-c:v mjpeg -q:v 2 -pix_fmt yuvj420p -fflags +bitexact -flags:v +bitexact"))
            .ProcessSynchronously(throwOnError: true);
    }

    private static void RequireFfmpeg()
    {
        string[] folders = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator);
        foreach (string tool in (ReadOnlySpan<string>)["ffmpeg", "ffprobe"])
        {
            if (!folders.Any(folder => File.Exists(Path.Combine(folder, tool))
                                       || File.Exists(Path.Combine(folder, tool + ".exe"))))
            {
                throw new MissingToolException(tool, "apt-get install ffmpeg");
            }
        }
    }

    // Streams one RGB frame into ffmpeg's rawvideo pipe input.
    private sealed class PipeFrame(RgbFrame frame) : IVideoFrame
    {
        public int Width => frame.Width;

        public int Height => frame.Height;

        public string PixelFormat => "rgb24";

        public void Serialize(Stream pipe) => pipe.Write(frame.Pixels);

        public Task SerializeAsync(Stream pipe, CancellationToken token) => pipe.WriteAsync(frame.Pixels, token).AsTask();
    }
}
