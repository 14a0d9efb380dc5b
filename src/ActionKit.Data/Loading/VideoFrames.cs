using ActionKit.Data.Cvat;

namespace ActionKit.Data.Loading;

/// <summary>The frames of one video, however stored: JPEG files read on demand (a CVAT video, a plain folder of
/// frames) or frames already decoded from a video file.</summary>
public sealed class VideoFrames
{
    private readonly IReadOnlyList<string>? _paths;
    private readonly IReadOnlyList<RgbFrame>? _frames;

    private VideoFrames(string name, IReadOnlyList<string>? paths, IReadOnlyList<RgbFrame>? frames)
    {
        Name = name;
        _paths = paths;
        _frames = frames;
    }

    /// <summary>The video's folder or file.</summary>
    public string Name { get; }

    public int Count => _paths?.Count ?? _frames!.Count;

    /// <summary>Decodes (JPEG) or returns (video file) frame <paramref name="index"/>.</summary>
    public RgbFrame Read(int index) => _frames is not null ? _frames[index] : JpegFrames.Decode(_paths![index]);

    /// <summary>The file a frame comes from, for error messages.</summary>
    public string SourceOf(int index) => _paths?[index] ?? Name;

    public static VideoFrames FromJpegFiles(string name, IReadOnlyList<string> framePaths) =>
        framePaths.Count > 0
            ? new VideoFrames(name, framePaths, null)
            : throw new DatasetFormatException(name, "video has no frames");

    public static VideoFrames FromCvat(CvatVideo video) => FromJpegFiles(video.Folder, video.FramePaths);

    /// <summary>Every .jpg/.jpeg file in a folder, in natural order of file names.</summary>
    public static VideoFrames FromFolder(string folder)
    {
        string[] paths = [.. Directory.EnumerateFiles(folder)
            .Where(path => path.EndsWith(".jpg", StringComparison.OrdinalIgnoreCase)
                           || path.EndsWith(".jpeg", StringComparison.OrdinalIgnoreCase))
            .Order(NaturalOrder.Instance)];
        return paths.Length > 0
            ? new VideoFrames(folder, paths, null)
            : throw new DatasetFormatException(folder, "folder holds no .jpg frames");
    }

    /// <summary>Decodes the whole video file now, with FFmpeg.</summary>
    public static VideoFrames FromVideoFile(string path, CancellationToken cancellationToken = default) =>
        FromDecodedFrames(path, VideoFiles.Decode(path, cancellationToken));

    /// <summary>Frames already in memory, e.g. decoded from <paramref name="name"/> by the caller.</summary>
    public static VideoFrames FromDecodedFrames(string name, IReadOnlyList<RgbFrame> frames) =>
        frames.Count > 0
            ? new VideoFrames(name, null, frames)
            : throw new DatasetFormatException(name, "video has no frames");

    /// <summary>A CVAT video folder (with annotations.xml), a plain folder of frames, or a video file.</summary>
    public static VideoFrames Open(string path, CancellationToken cancellationToken = default)
    {
        if (File.Exists(Path.Combine(path, CvatAnnotations.FileName)))
        {
            return FromCvat(CvatDataset.ReadVideo(path));
        }
        if (Directory.Exists(path))
        {
            return FromFolder(path);
        }
        return File.Exists(path)
            ? FromVideoFile(path, cancellationToken)
            : throw new DatasetFormatException(path, "no such video file or frame folder");
    }
}

/// <summary>A video and its class id, as the loader consumes them.</summary>
public sealed record LabeledVideo(VideoFrames Frames, int Label)
{
    /// <summary>The videos of a CVAT root with labels mapped to ids by <paramref name="classNames"/> (the model's
    /// label schema); a label outside it is an error naming the video's annotations.xml.</summary>
    public static IReadOnlyList<LabeledVideo> FromCvat(CvatDataset dataset, IReadOnlyList<string> classNames) =>
    [
        .. dataset.Videos.Select(video =>
        {
            int label = classNames.ToList().IndexOf(video.Label);
            return label >= 0
                ? new LabeledVideo(VideoFrames.FromCvat(video), label)
                : throw new DatasetFormatException(Path.Combine(video.Folder, CvatAnnotations.FileName),
                    $"label '{video.Label}' is not one of the {classNames.Count} classes ({string.Join(", ", classNames)})");
        }),
    ];
}
