namespace ActionKit.Data.Hmdb51;

/// <summary>Which subset a split file lists.</summary>
public enum Hmdb51Subset
{
    Train,
    Val,
}

/// <summary>Which form of the videos a split file refers to: folders of extracted frames or video files.</summary>
public enum Hmdb51Source
{
    Rawframes,
    Videos,
}

/// <summary>File and folder names of HMDB51 as mmaction2 prepares it (label_map.txt, split files,
/// rawframes/&lt;class&gt;/&lt;video_dir&gt;/img_00001.jpg, videos/&lt;class&gt;/&lt;video&gt;.avi).</summary>
public static class Hmdb51Layout
{
    public const string LabelMapFileName = "label_map.txt";
    public const string RawframesFolder = "rawframes";
    public const string VideosFolder = "videos";

    public static string LabelMapPath(string root) => Path.Combine(root, LabelMapFileName);

    /// <summary>hmdb51_{train,val}_split_{1,2,3}_{rawframes,videos}.txt under <paramref name="root"/>.</summary>
    public static string SplitFilePath(string root, Hmdb51Subset subset, int split, Hmdb51Source source)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(split, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(split, 3);
        string subsetName = subset == Hmdb51Subset.Train ? "train" : "val";
        string sourceName = source == Hmdb51Source.Rawframes ? "rawframes" : "videos";
        return Path.Combine(root, $"hmdb51_{subsetName}_split_{split}_{sourceName}.txt");
    }

    /// <summary>The folder (rawframes) or file (videos) a split line's relative path points to.</summary>
    public static string MediaPath(string root, Hmdb51Source source, string relativePath)
    {
        string folder = source == Hmdb51Source.Rawframes ? RawframesFolder : VideosFolder;
        return Path.Combine(root, folder, relativePath);
    }

    /// <summary>The actor boxes file of a video (<see cref="ActorBoxesFile"/>), beside its frames folder or video
    /// file: rawframes/&lt;class&gt;/&lt;video_dir&gt;.boxes.txt or videos/&lt;class&gt;/&lt;video&gt;.boxes.txt.</summary>
    public static string BoxesPath(string mediaPath, Hmdb51Source source) =>
        (source == Hmdb51Source.Videos ? Path.ChangeExtension(mediaPath, null) : mediaPath.TrimEnd('/', Path.DirectorySeparatorChar)) + ".boxes.txt";

    /// <summary>RGB frame file name for a 0-based frame index: img_00001.jpg for index 0.</summary>
    public static string FrameFileName(int frameIndex) => $"img_{frameIndex + 1:D5}.jpg";
}
