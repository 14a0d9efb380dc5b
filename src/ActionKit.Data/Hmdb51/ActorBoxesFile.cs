using System.Globalization;
using System.Text;

namespace ActionKit.Data.Hmdb51;

/// <summary>
/// The boxes of a video's actors, beside its frames folder or video file (<see cref="Hmdb51Layout.BoxesPath"/>): one
/// line per actor per frame in MOTChallenge's ground-truth columns, <c>frame,id,left,top,width,height</c>, frames
/// counted from 1 (img_00001.jpg), pixels measured at pixel edges. HMDB51 has none; the synthetic dataset writes them.
/// </summary>
public static class ActorBoxesFile
{
    public static void Write(string path, IEnumerable<(FrameBox Box, int Actor)> boxes)
    {
        var text = new StringBuilder();
        foreach (var ((frame, box), actor) in boxes)
        {
            text.Append(CultureInfo.InvariantCulture,
                $"{frame + 1},{actor},{box.Left:F2},{box.Top:F2},{box.Width:F2},{box.Height:F2}\n");
        }
        File.WriteAllText(path, text.ToString());
    }

    /// <summary>The boxes of <paramref name="path"/> for a video of <paramref name="frameCount"/> frames (0-based
    /// frame indices). A malformed line, a frame out of range or an empty box is an error naming the line.</summary>
    public static IReadOnlyList<FrameBox> Read(string path, int frameCount)
    {
        var boxes = new List<FrameBox>();
        string[] lines = File.ReadAllLines(path);
        for (int i = 0; i < lines.Length; i++)
        {
            string line = lines[i].Trim();
            if (line.Length == 0 || line.StartsWith('#'))
            {
                continue;
            }
            string[] fields = line.Split(',');
            double[] values = [.. fields.Select(Number)];
            if (fields.Length != 6 || values.Any(double.IsNaN))
            {
                throw new DatasetFormatException(path, i + 1, $"expected 'frame,id,left,top,width,height', got '{line}'");
            }
            int frame = (int)values[0];
            if (frame != values[0] || frame < 1 || frame > frameCount)
            {
                throw new DatasetFormatException(path, i + 1, $"frame {fields[0]} is not one of the video's frames 1..{frameCount}");
            }
            var box = new BoundingBox(values[2], values[3], values[2] + values[4], values[3] + values[5]);
            if (box.IsEmpty)
            {
                throw new DatasetFormatException(path, i + 1, $"box {fields[4]}x{fields[5]} is empty");
            }
            boxes.Add(new FrameBox(frame - 1, box));
        }
        return boxes;
    }

    private static double Number(string field) =>
        double.TryParse(field, NumberStyles.Float, CultureInfo.InvariantCulture, out double value) && double.IsFinite(value) ? value : double.NaN;
}
