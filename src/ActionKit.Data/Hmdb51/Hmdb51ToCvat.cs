using ActionKit.Data.Cvat;

namespace ActionKit.Data.Hmdb51;

/// <summary>One CVAT subset folder after conversion: videos and frames in it, and how many videos were found
/// complete from an earlier run and kept.</summary>
public sealed record CvatSubsetSummary(string Folder, int Videos, long Frames, int Reused);

/// <summary>What <see cref="Hmdb51ToCvat.Convert"/> produced.</summary>
public sealed record ConversionSummary(CvatSubsetSummary Train, CvatSubsetSummary Valid, IReadOnlyList<string> Labels);

/// <summary>Converts one HMDB51 split (rawframes or videos) into CVAT per-video folders: cvatRoot/train/Video_i and
/// cvatRoot/valid/Video_i, i in split-file order. A video's actor boxes file, where there is one, becomes boxes on
/// its frames. All input is validated before anything is written; each video is
/// written to Video_i.tmp and renamed; a rerun keeps videos that are already complete and redoes the rest.</summary>
public static class Hmdb51ToCvat
{
    public const string TrainFolder = "train";
    public const string ValidFolder = "valid";

    public static ConversionSummary Convert(string hmdbRoot, int split, Hmdb51Source source, string cvatRoot,
        IProgress<WorkProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        IReadOnlyList<string> labels = ReadLabelMap(hmdbRoot);
        VideoJob[] jobs =
        [
            .. Plan(hmdbRoot, split, source, Hmdb51Subset.Train, Path.Combine(cvatRoot, TrainFolder), labels),
            .. Plan(hmdbRoot, split, source, Hmdb51Subset.Val, Path.Combine(cvatRoot, ValidFolder), labels),
        ];
        foreach (VideoJob job in jobs)
        {
            CheckSourceExists(job);
        }
        int?[] frameCounts = [.. jobs.Select(FramesIfComplete)];
        bool[] reused = [.. frameCounts.Select(count => count is not null)];
        VideoJob[] pending = [.. jobs.Where((_, i) => !reused[i])];
        var sources = new SourceFacts[pending.Length];
        Run(pending.Length, i => sources[i] = InspectSource(pending[i], cancellationToken),
            "Checking source frames", progress, cancellationToken);
        RemoveUnfinished(cvatRoot);
        var written = new int[pending.Length];
        Run(pending.Length, i => written[i] = Write(pending[i], sources[i], cancellationToken),
            "Converting to CVAT", progress, cancellationToken);
        for (int i = 0, p = 0; i < jobs.Length; i++)
        {
            frameCounts[i] ??= written[p++];
        }
        CvatSubsetSummary Summarize(string folder)
        {
            int[] members = [.. Enumerable.Range(0, jobs.Length).Where(i => jobs[i].SubsetFolder == folder)];
            return new CvatSubsetSummary(folder, members.Length, members.Sum(i => (long)frameCounts[i]!.Value),
                members.Count(i => reused[i]));
        }
        return new ConversionSummary(Summarize(Path.Combine(cvatRoot, TrainFolder)),
            Summarize(Path.Combine(cvatRoot, ValidFolder)), labels);
    }

    // One video to convert: where it comes from (with the split line that lists it) and where it goes.
    private sealed record VideoJob(Hmdb51Entry Entry, string SplitFile, Hmdb51Source Source, string SourcePath,
        string Name, string Label, int Index, string SubsetFolder)
    {
        public string Destination => Path.Combine(SubsetFolder, $"Video_{Index}");

        public string FramePath(int frame) => Path.Combine(SourcePath, Hmdb51Layout.FrameFileName(frame));

        public DatasetFormatException Error(string problem) => new(SplitFile, Entry.Line, problem);

        public string BoxesPath => Hmdb51Layout.BoxesPath(SourcePath, Source);
    }

    // What inspecting a source found: its frame size and its actors' boxes (none without a boxes file).
    private sealed record SourceFacts(VideoInfo Video, IReadOnlyList<FrameBox> Boxes);

    private static IReadOnlyList<string> ReadLabelMap(string hmdbRoot)
    {
        if (!Directory.Exists(hmdbRoot))
        {
            throw new DatasetFormatException(hmdbRoot, "HMDB51 data root not found");
        }
        if (!Directory.EnumerateFileSystemEntries(hmdbRoot).Any())
        {
            throw new DatasetFormatException(hmdbRoot,
                "HMDB51 data root is empty; expected label_map.txt, split files and rawframes/ or videos/");
        }
        return Hmdb51LabelMap.Read(Hmdb51Layout.LabelMapPath(hmdbRoot));
    }

    private static IEnumerable<VideoJob> Plan(string hmdbRoot, int split, Hmdb51Source source, Hmdb51Subset subset,
        string subsetFolder, IReadOnlyList<string> labels)
    {
        string splitFile = Hmdb51Layout.SplitFilePath(hmdbRoot, subset, split, source);
        return Hmdb51SplitFile.Read(splitFile, source, labels.Count).Select((entry, index) => new VideoJob(
            entry, splitFile, source, Hmdb51Layout.MediaPath(hmdbRoot, source, entry.RelativePath),
            VideoName(entry.RelativePath, source), labels[entry.ClassIndex], index, subsetFolder));
    }

    // The source video's name: the frame folder's name, or the video file's name without its extension.
    private static string VideoName(string relativePath, Hmdb51Source source)
    {
        string name = Path.GetFileName(relativePath.TrimEnd('/'));
        return source == Hmdb51Source.Videos ? Path.GetFileNameWithoutExtension(name) : name;
    }

    private static void CheckSourceExists(VideoJob job)
    {
        if (job.Source == Hmdb51Source.Videos)
        {
            if (!File.Exists(job.SourcePath))
            {
                throw job.Error($"video file {job.SourcePath} not found");
            }
            return;
        }
        if (!Directory.Exists(job.SourcePath))
        {
            throw job.Error($"video folder {job.SourcePath} not found");
        }
        int expected = job.Entry.FrameCount!.Value;
        int firstMissing = Enumerable.Range(0, expected).FirstOrDefault(i => !File.Exists(job.FramePath(i)), -1);
        if (firstMissing >= 0)
        {
            int present = Directory.EnumerateFiles(job.SourcePath, "img_*.jpg").Count();
            throw job.Error($"video folder {job.SourcePath} has {present} img_ frames, the split line says {expected} "
                            + $"(first missing: {Hmdb51Layout.FrameFileName(firstMissing)})");
        }
    }

    // The frame count of a destination video left complete and intact by an earlier run, else null.
    private static int? FramesIfComplete(VideoJob job)
    {
        if (!File.Exists(Path.Combine(job.Destination, CvatAnnotations.FileName)))
        {
            return null;
        }
        try
        {
            CvatVideo video = CvatDataset.ReadVideo(job.Destination);
            bool same = video.TaskName == job.Name && video.Label == job.Label
                        && (job.Entry.FrameCount is null || job.Entry.FrameCount == video.FramePaths.Count);
            return same ? video.FramePaths.Count : null;
        }
        catch (DatasetFormatException)
        {
            return null;
        }
    }

    // Decodes every source frame (or probes the video, counting its frames) and reads the boxes, so corrupt input
    // fails before anything is written.
    private static SourceFacts InspectSource(VideoJob job, CancellationToken cancellationToken)
    {
        VideoInfo video = job.Source == Hmdb51Source.Videos
            ? VideoFiles.Probe(job.SourcePath, cancellationToken)
            : InspectFrames(job, cancellationToken);
        IReadOnlyList<FrameBox> boxes = File.Exists(job.BoxesPath) ? ActorBoxesFile.Read(job.BoxesPath, video.Frames) : [];
        return new SourceFacts(video, boxes);
    }

    private static VideoInfo InspectFrames(VideoJob job, CancellationToken cancellationToken)
    {
        RgbFrame first = JpegFrames.Decode(job.FramePath(0));
        for (int i = 1; i < job.Entry.FrameCount!.Value; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            RgbFrame frame = JpegFrames.Decode(job.FramePath(i));
            if (frame.Width != first.Width || frame.Height != first.Height)
            {
                throw new DatasetFormatException(job.FramePath(i),
                    $"frame is {frame.Width}x{frame.Height}, the video's first frame is {first.Width}x{first.Height}");
            }
        }
        return new VideoInfo(first.Width, first.Height, job.Entry.FrameCount.Value);
    }

    // Video_i.tmp folders left by an interrupted run.
    private static void RemoveUnfinished(string cvatRoot)
    {
        foreach (string subset in (ReadOnlySpan<string>)[TrainFolder, ValidFolder])
        {
            string folder = Path.Combine(cvatRoot, subset);
            if (Directory.Exists(folder))
            {
                foreach (string unfinished in Directory.GetDirectories(folder, "*.tmp"))
                {
                    Directory.Delete(unfinished, recursive: true);
                }
            }
        }
    }

    private static int Write(VideoJob job, SourceFacts source, CancellationToken cancellationToken)
    {
        string temporary = job.Destination + ".tmp";
        string images = Path.Combine(temporary, CvatAnnotations.ImagesFolder);
        Directory.CreateDirectory(images);
        try
        {
            int frameCount = job.Source == Hmdb51Source.Rawframes
                ? CopyFrames(job, images, cancellationToken)
                : EncodeFrames(job, source.Video, images, cancellationToken);
            string[] names = [.. Enumerable.Range(0, frameCount).Select(CvatAnnotations.FrameFileName)];
            if (source.Boxes.FirstOrDefault(b => b.Frame >= frameCount) is { Box.IsEmpty: false } beyond)
            {
                throw new DatasetFormatException(job.BoxesPath, $"a box is on frame {beyond.Frame + 1}, the video has {frameCount} frames");
            }
            CvatAnnotations.Write(Path.Combine(temporary, CvatAnnotations.FileName),
                new CvatAnnotation(job.Index, job.Name, job.Label, source.Video.Width, source.Video.Height, names) { Boxes = source.Boxes });
            if (Directory.Exists(job.Destination))
            {
                Directory.Delete(job.Destination, recursive: true);
            }
            Directory.Move(temporary, job.Destination);
            return frameCount;
        }
        catch
        {
            Directory.Delete(temporary, recursive: true);
            throw;
        }
    }

    private static int CopyFrames(VideoJob job, string images, CancellationToken cancellationToken)
    {
        int frameCount = job.Entry.FrameCount!.Value;
        for (int i = 0; i < frameCount; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            File.Copy(job.FramePath(i), Path.Combine(images, CvatAnnotations.FrameFileName(i)));
        }
        return frameCount;
    }

    private static int EncodeFrames(VideoJob job, VideoInfo source, string images, CancellationToken cancellationToken)
    {
        IReadOnlyList<RgbFrame> frames = VideoFiles.Decode(job.SourcePath, source, cancellationToken);
        for (int i = 0; i < frames.Count; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            JpegFrames.Encode(frames[i], Path.Combine(images, CvatAnnotations.FrameFileName(i)));
        }
        return frames.Count;
    }

    private static void Run(int count, Action<int> body, string description, IProgress<WorkProgress>? progress,
        CancellationToken cancellationToken)
    {
        int done = 0;
        progress?.Report(new WorkProgress(description, 0, count));
        ParallelWork.For(count, i =>
        {
            body(i);
            progress?.Report(new WorkProgress(description, Interlocked.Increment(ref done), count));
        }, cancellationToken);
    }
}
