namespace ActionKit.Data.Cvat;

/// <summary>One video of a CVAT root: its folder name (e.g. Video_3), folder, task name (the source video's
/// name), label (the first frame's tag), frame file paths in order, frame size, and the actors' boxes when the
/// annotations have them.</summary>
public sealed record CvatVideo(string Name, string Folder, string TaskName, string Label,
    IReadOnlyList<string> FramePaths, int Width, int Height)
{
    public IReadOnlyList<FrameBox> Boxes { get; init; } = [];
}

/// <summary>A CVAT root (e.g. CVAT/train): one folder per video, each with annotations.xml and images/.
/// Videos are listed in natural order of their folder names (Video_2 before Video_10).</summary>
public sealed class CvatDataset
{
    private CvatDataset(string root, IReadOnlyList<CvatVideo> videos)
    {
        Root = root;
        Videos = videos;
        Labels = [.. videos.Select(video => video.Label).Distinct().Order(StringComparer.Ordinal)];
    }

    public string Root { get; }

    public IReadOnlyList<CvatVideo> Videos { get; }

    /// <summary>The distinct label names of all videos, in ordinal order.</summary>
    public IReadOnlyList<string> Labels { get; }

    /// <summary>Reads every video folder under <paramref name="root"/>; folders ending in .tmp (unfinished
    /// conversions) are ignored. A missing root, or one without videos, is an error naming it.</summary>
    public static CvatDataset Open(string root)
    {
        if (!Directory.Exists(root))
        {
            throw new DatasetFormatException(root, "CVAT data root not found");
        }
        string[] folders = [.. Directory.EnumerateDirectories(root)
            .Where(folder => !folder.EndsWith(".tmp", StringComparison.Ordinal))
            .Order(NaturalOrder.Instance)];
        if (folders.Length == 0)
        {
            throw new DatasetFormatException(root, "CVAT data root holds no video folders (expected Video_0, Video_1, ...)");
        }
        return new CvatDataset(root, [.. folders.Select(ReadVideo)]);
    }

    /// <summary>Reads one video folder and checks that every frame file its annotations.xml names exists.</summary>
    public static CvatVideo ReadVideo(string folder)
    {
        string annotationsPath = Path.Combine(folder, CvatAnnotations.FileName);
        CvatAnnotation annotation = CvatAnnotations.Read(annotationsPath);
        string images = Path.Combine(folder, CvatAnnotations.ImagesFolder);
        string[] framePaths = [.. annotation.FrameNames.Select(name => Path.Combine(images, name))];
        string? missing = framePaths.FirstOrDefault(path => !File.Exists(path));
        if (missing is not null)
        {
            throw new DatasetFormatException(annotationsPath, $"frame file {missing} does not exist");
        }
        return new CvatVideo(Path.GetFileName(folder), folder, annotation.TaskName, annotation.Label, framePaths,
            annotation.Width, annotation.Height)
        {
            Boxes = annotation.Boxes,
        };
    }
}
