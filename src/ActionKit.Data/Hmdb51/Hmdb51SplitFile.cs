using System.Globalization;

namespace ActionKit.Data.Hmdb51;

/// <summary>One line of a split file: <c>&lt;class&gt;/&lt;video_dir&gt; &lt;num_frames&gt; &lt;class_idx&gt;</c>
/// (rawframes) or <c>&lt;class&gt;/&lt;video&gt;.avi &lt;class_idx&gt;</c> (videos, <see cref="FrameCount"/> null).
/// <see cref="Line"/> is the 1-based line number in the file it was read from.</summary>
public sealed record Hmdb51Entry(string RelativePath, int? FrameCount, int ClassIndex, int Line);

/// <summary>Reads and writes mmaction2's HMDB51 split files; '#' lines and blank lines are skipped.</summary>
public static class Hmdb51SplitFile
{
    /// <summary>Reads and validates every line against a label map of <paramref name="classCount"/> classes.</summary>
    public static IReadOnlyList<Hmdb51Entry> Read(string path, Hmdb51Source source, int classCount)
    {
        if (!File.Exists(path))
        {
            throw new DatasetFormatException(path, "split file not found");
        }
        string[] lines = File.ReadAllLines(path);
        var entries = new List<Hmdb51Entry>(lines.Length);
        var firstLineOf = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < lines.Length; i++)
        {
            string text = lines[i].Trim();
            if (text.Length == 0 || text.StartsWith('#'))
            {
                continue;
            }
            Hmdb51Entry entry = ParseLine(path, i + 1, text, source, classCount);
            if (!firstLineOf.TryAdd(entry.RelativePath, entry.Line))
            {
                throw new DatasetFormatException(path, entry.Line,
                    $"duplicate entry '{entry.RelativePath}' (first on line {firstLineOf[entry.RelativePath]})");
            }
            entries.Add(entry);
        }
        if (entries.Count == 0)
        {
            throw new DatasetFormatException(path, "split file lists no videos");
        }
        return entries;
    }

    public static void Write(string path, IEnumerable<Hmdb51Entry> entries, Hmdb51Source source)
    {
        using var writer = new StreamWriter(path, append: false);
        writer.NewLine = "\n";
        foreach (Hmdb51Entry entry in entries)
        {
            writer.WriteLine(source == Hmdb51Source.Rawframes
                ? string.Create(CultureInfo.InvariantCulture, $"{entry.RelativePath} {entry.FrameCount} {entry.ClassIndex}")
                : string.Create(CultureInfo.InvariantCulture, $"{entry.RelativePath} {entry.ClassIndex}"));
        }
    }

    private static Hmdb51Entry ParseLine(string path, int line, string text, Hmdb51Source source, int classCount)
    {
        string[] fields = text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        (int expected, string format) = source == Hmdb51Source.Rawframes
            ? (3, "<class>/<video_dir> <num_frames> <class_idx>")
            : (2, "<class>/<video>.avi <class_idx>");
        if (fields.Length != expected)
        {
            throw new DatasetFormatException(path, line,
                $"expected {expected} fields '{format}', found {fields.Length}");
        }
        int? frameCount = null;
        if (source == Hmdb51Source.Rawframes)
        {
            int frames = ParseInteger(path, line, fields[1], "frame count");
            if (frames < 1)
            {
                throw new DatasetFormatException(path, line, $"frame count {frames} must be at least 1");
            }
            frameCount = frames;
        }
        int classIndex = ParseInteger(path, line, fields[^1], "class index");
        if (classIndex < 0 || classIndex >= classCount)
        {
            throw new DatasetFormatException(path, line,
                $"class index {classIndex} is outside the label map (expected 0 to {classCount - 1})");
        }
        return new Hmdb51Entry(fields[0], frameCount, classIndex, line);
    }

    private static int ParseInteger(string path, int line, string field, string what) =>
        int.TryParse(field, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int value)
            ? value
            : throw new DatasetFormatException(path, line, $"{what} '{field}' is not an integer");
}
