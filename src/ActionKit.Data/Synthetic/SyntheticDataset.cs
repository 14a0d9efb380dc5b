using ActionKit.Data.Hmdb51;

namespace ActionKit.Data.Synthetic;

/// <summary>What <see cref="SyntheticDataset.Generate"/> wrote.</summary>
public sealed record SyntheticSummary(int TrainVideos, int ValVideos, long Frames);

/// <summary>Writes a synthetic dataset in the HMDB51 layout whose classes differ only in motion, so a model can
/// only tell them apart by the order of frames. Output is byte-identical for the same options.</summary>
public static class SyntheticDataset
{
    private static readonly (string Name, Motion Motion, bool Reversed)[] Classes =
    [
        ("move_up", Motion.MoveUp, false),
        ("move_down", Motion.MoveUp, true),
        ("grow", Motion.Grow, false),
        ("shrink", Motion.Grow, true),
        ("apart", Motion.Apart, false),
        ("together", Motion.Apart, true),
        ("shake", Motion.Shake, false),
        ("still", Motion.Still, false),
    ];

    /// <summary>The class names in label-map order (class id = index).</summary>
    public static IReadOnlyList<string> ClassNames { get; } = [.. Classes.Select(c => c.Name)];

    /// <summary>Pairs of classes that are the same motion played in opposite time directions.</summary>
    public static IReadOnlyList<(string Forward, string Reversed)> ReversedPairs { get; } =
    [
        .. Classes.Where(c => c.Reversed)
            .Select(c => (Classes.First(f => f.Motion == c.Motion && !f.Reversed).Name, c.Name)),
    ];

    /// <summary>Writes label_map.txt, rawframes/&lt;class&gt;/&lt;video&gt;/img_00001.jpg..., each video's actor
    /// boxes (rawframes/&lt;class&gt;/&lt;video&gt;.boxes.txt, <see cref="ActorBoxesFile"/>), the split-1
    /// rawframes split files and, with <see cref="SyntheticOptions.Videos"/>, videos/ and the _videos.txt split
    /// files under <paramref name="root"/>. Videos are rendered in parallel, each from its own seed.</summary>
    public static SyntheticSummary Generate(string root, SyntheticOptions options,
        IProgress<WorkProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        options.Validate();
        Directory.CreateDirectory(root);
        Hmdb51LabelMap.Write(Hmdb51Layout.LabelMapPath(root), ClassNames);
        int total = Classes.Length * options.VideosPerClass;
        var frameCounts = new int[total];
        int done = 0;
        ParallelWork.For(total, video =>
        {
            (int classIndex, int index) = Math.DivRem(video, options.VideosPerClass);
            frameCounts[video] = WriteVideo(root, options, classIndex, index, cancellationToken);
            progress?.Report(new WorkProgress("Rendering synthetic videos", Interlocked.Increment(ref done), total));
        }, cancellationToken);
        WriteSplitFiles(root, options, frameCounts);
        return new SyntheticSummary(Classes.Length * options.TrainVideosPerClass,
            Classes.Length * options.ValVideosPerClass, frameCounts.Sum(count => (long)count));
    }

    /// <summary>The scene of one video, from a seed derived from (seed, class, index) alone.</summary>
    internal static SyntheticScene CreateScene(SyntheticOptions options, int classIndex, int index)
    {
        var (_, motion, reversed) = Classes[classIndex];
        ulong seed = Xoshiro256.DeriveSeed(options.Seed, classIndex, index);
        return new SyntheticScene(options.Width, options.Height, (options.MinFrames, options.MaxFrames),
            motion, reversed, seed);
    }

    internal static string VideoName(int classIndex, int index) => $"synth_{Classes[classIndex].Name}_{index + 1:D3}";

    private static int WriteVideo(string root, SyntheticOptions options, int classIndex, int index,
        CancellationToken cancellationToken)
    {
        SyntheticScene scene = CreateScene(options, classIndex, index);
        string relative = Path.Combine(ClassNames[classIndex], VideoName(classIndex, index));
        string frameFolder = Hmdb51Layout.MediaPath(root, Hmdb51Source.Rawframes, relative);
        Directory.CreateDirectory(frameFolder);
        var frames = new RgbFrame[scene.FrameCount];
        var boxes = new List<(FrameBox, int)>();
        for (int i = 0; i < frames.Length; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            frames[i] = scene.Render(i);
            JpegFrames.Encode(frames[i], Path.Combine(frameFolder, Hmdb51Layout.FrameFileName(i)));
            int frame = i;
            boxes.AddRange(scene.ActorBoxes(i).Select((box, actor) => (new FrameBox(frame, box), actor + 1)).Where(b => !b.Item1.Box.IsEmpty));
        }
        ActorBoxesFile.Write(Hmdb51Layout.BoxesPath(frameFolder, Hmdb51Source.Rawframes), boxes);
        if (options.Videos)
        {
            string videoPath = Hmdb51Layout.MediaPath(root, Hmdb51Source.Videos, relative + ".avi");
            Directory.CreateDirectory(Path.GetDirectoryName(videoPath)!);
            VideoFiles.Encode(frames, videoPath);
            ActorBoxesFile.Write(Hmdb51Layout.BoxesPath(videoPath, Hmdb51Source.Videos), boxes);
        }
        return frames.Length;
    }

    private static void WriteSplitFiles(string root, SyntheticOptions options, int[] frameCounts)
    {
        foreach (Hmdb51Subset subset in (ReadOnlySpan<Hmdb51Subset>)[Hmdb51Subset.Train, Hmdb51Subset.Val])
        {
            var entries = new List<Hmdb51Entry>();
            for (int classIndex = 0; classIndex < Classes.Length; classIndex++)
            {
                (int first, int end) = subset == Hmdb51Subset.Train
                    ? (0, options.TrainVideosPerClass)
                    : (options.TrainVideosPerClass, options.VideosPerClass);
                for (int index = first; index < end; index++)
                {
                    string relative = $"{ClassNames[classIndex]}/{VideoName(classIndex, index)}";
                    int frames = frameCounts[classIndex * options.VideosPerClass + index];
                    entries.Add(new Hmdb51Entry(relative, frames, classIndex, entries.Count + 1));
                }
            }
            Hmdb51SplitFile.Write(Hmdb51Layout.SplitFilePath(root, subset, 1, Hmdb51Source.Rawframes),
                entries, Hmdb51Source.Rawframes);
            if (options.Videos)
            {
                Hmdb51SplitFile.Write(Hmdb51Layout.SplitFilePath(root, subset, 1, Hmdb51Source.Videos),
                    entries.Select(entry => entry with { RelativePath = entry.RelativePath + ".avi", FrameCount = null }),
                    Hmdb51Source.Videos);
            }
        }
    }
}
