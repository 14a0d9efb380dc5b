using System.Globalization;
using System.Text.Json;

namespace ActionKit.Data;

/// <summary>What ffprobe says of a video file's first video stream: its frame size and how many frames its decoder
/// puts out.</summary>
public readonly record struct VideoInfo(int Width, int Height, int Frames)
{
    /// <summary>Bytes of one decoded RGB24 frame.</summary>
    public int FrameBytes => Width * Height * 3;
}

/// <summary>
/// Decodes video files to RGB frames and encodes frame sequences to MJPEG .avi, with the ffmpeg and ffprobe programs
/// on PATH. A video's frames are the pictures its decoder puts out, each once, in order: timestamps are ignored
/// (<c>-fps_mode passthrough</c>), so a variable-frame-rate file neither gains duplicated frames nor loses dropped
/// ones. ffprobe counts the same frames (<c>-count_frames</c>, which decodes the stream), and a decode that yields
/// another number is an error, never a silently shorter clip.
/// </summary>
public static class VideoFiles
{
    public const double DefaultFramesPerSecond = 30;

    /// <summary>The largest frame side accepted; a larger declared size is refused before decoding.</summary>
    public const int MaxFrameSide = 8192;

    /// <summary>The most decoded bytes one video may take in memory (2 GiB); a longer or larger video is refused
    /// before decoding.</summary>
    public const long MaxDecodedBytes = 1L << 31;

    /// <summary>Frame size and decoded frame count of the first video stream; an unreadable file, a still image or
    /// a stream without frames is a <see cref="DatasetFormatException"/> naming the file.</summary>
    public static VideoInfo Probe(string path, CancellationToken cancellationToken = default)
    {
        RequireFfmpeg();
        if (!File.Exists(path))
        {
            throw new DatasetFormatException(path, "video file not found");
        }
        var result = ExternalTool.Run("ffprobe",
            ["-v", "error", "-count_frames", "-select_streams", "v:0",
             "-show_entries", "stream=width,height,nb_read_frames:format=format_name", "-of", "json", path],
            writeInput: null, output => new StreamReader(output).ReadToEnd(), cancellationToken);
        if (result.ExitCode != 0)
        {
            throw new DatasetFormatException(path, $"not a readable video: {result.LastError}");
        }
        return ParseProbe(path, result.Output);
    }

    /// <summary>Every frame of the first video stream, in order, as RGB24.</summary>
    public static IReadOnlyList<RgbFrame> Decode(string path, CancellationToken cancellationToken = default) =>
        Decode(path, Probe(path, cancellationToken), cancellationToken);

    /// <summary>As <see cref="Decode(string, CancellationToken)"/> for a video already probed: exactly
    /// <paramref name="info"/>'s frame count, or a <see cref="DatasetFormatException"/> naming the file.</summary>
    public static IReadOnlyList<RgbFrame> Decode(string path, VideoInfo info, CancellationToken cancellationToken)
    {
        RequireFfmpeg();
        var result = ExternalTool.Run("ffmpeg",
            ["-nostdin", "-v", "error", "-i", path, "-map", "0:v:0", "-fps_mode", "passthrough",
             "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"],
            writeInput: null, output => ReadFrames(output, info), cancellationToken);
        if (result.ExitCode != 0)
        {
            throw new DatasetFormatException(path, $"video could not be decoded: {result.LastError}");
        }
        (List<RgbFrame> frames, long extraBytes) = result.Output;
        if (frames.Count != info.Frames || extraBytes != 0)
        {
            string decoded = extraBytes == 0
                ? $"{frames.Count} frames"
                : frames.Count < info.Frames
                    ? $"{frames.Count} frames and {extraBytes} bytes of a partial frame"
                    : $"more than {frames.Count} frames";
            throw new DatasetFormatException(path,
                $"video decoded to {decoded} of {info.Width}x{info.Height}, ffprobe counts {info.Frames} frames");
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
        var result = ExternalTool.Run("ffmpeg",
            ["-nostdin", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24",
             "-video_size", $"{frames[0].Width}x{frames[0].Height}",
             "-framerate", framesPerSecond.ToString(CultureInfo.InvariantCulture), "-i", "pipe:0",
             "-c:v", "mjpeg", "-q:v", "2", "-pix_fmt", "yuvj420p", "-fflags", "+bitexact", "-flags:v", "+bitexact", path],
            input =>
            {
                foreach (RgbFrame frame in frames)
                {
                    input.Write(frame.Pixels);
                }
            },
            output => new StreamReader(output).ReadToEnd(), CancellationToken.None);
        if (result.ExitCode != 0)
        {
            throw new IOException($"{path}: ffmpeg could not write the video: {result.LastError}");
        }
    }

    private static VideoInfo ParseProbe(string path, string json)
    {
        try
        {
            using JsonDocument document = JsonDocument.Parse(json);
            JsonElement root = document.RootElement;
            string container = root.TryGetProperty("format", out JsonElement format)
                               && format.TryGetProperty("format_name", out JsonElement name) ? name.GetString() ?? "" : "";
            if (container == "image2" || container.EndsWith("_pipe", StringComparison.Ordinal))
            {
                throw new DatasetFormatException(path, $"not a video: ffprobe reads it as a still image ({container})");
            }
            if (!root.TryGetProperty("streams", out JsonElement streams) || streams.GetArrayLength() == 0)
            {
                throw new DatasetFormatException(path, "not a readable video: no video stream");
            }
            JsonElement stream = streams[0];
            int width = stream.TryGetProperty("width", out JsonElement w) ? w.GetInt32() : 0;
            int height = stream.TryGetProperty("height", out JsonElement h) ? h.GetInt32() : 0;
            int frames = stream.TryGetProperty("nb_read_frames", out JsonElement n)
                         && int.TryParse(n.GetString(), NumberStyles.None, CultureInfo.InvariantCulture, out int count) ? count : 0;
            if (width <= 0 || height <= 0)
            {
                throw new DatasetFormatException(path, "not a readable video: the video stream has no frame size");
            }
            if (width > MaxFrameSide || height > MaxFrameSide)
            {
                throw new DatasetFormatException(path, $"video frames are {width}x{height}, larger than {MaxFrameSide} on a side");
            }
            if (frames == 0)
            {
                throw new DatasetFormatException(path, "not a readable video: no frame decodes");
            }
            var info = new VideoInfo(width, height, frames);
            if ((long)info.FrameBytes * frames > MaxDecodedBytes)
            {
                throw new DatasetFormatException(path,
                    $"video has {frames} frames of {width}x{height}, more than {MaxDecodedBytes >> 30} GiB decoded");
            }
            return info;
        }
        catch (Exception error) when (error is JsonException or InvalidOperationException or FormatException)
        {
            throw new DatasetFormatException(path, $"not a readable video: ffprobe's report did not parse ({error.Message})", error);
        }
    }

    // Reads whole frames to the end of the stream: at most the probed count, then counts whatever follows.
    private static (List<RgbFrame> Frames, long ExtraBytes) ReadFrames(Stream output, VideoInfo info)
    {
        var frames = new List<RgbFrame>(info.Frames);
        while (frames.Count < info.Frames)
        {
            var pixels = new byte[info.FrameBytes];
            int read = output.ReadAtLeast(pixels, pixels.Length, throwOnEndOfStream: false);
            if (read < pixels.Length)
            {
                return (frames, read);
            }
            frames.Add(new RgbFrame(info.Width, info.Height, pixels));
        }
        var rest = new byte[1 << 16];
        long extra = 0;
        for (int read; (read = output.Read(rest)) > 0;)
        {
            extra += read;
        }
        return (frames, extra);
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
}
