namespace ActionKit.Pipeline.Explain;

/// <summary>
/// How well saliency maps point at the actors, over frames whose actors show in the view: the share of frames whose
/// peak falls inside an actor's box, the mean share of the map's mass inside the boxes, and what chance gives for
/// both, the boxes' mean share of the view's area.
/// </summary>
public sealed record PointingScore(string Method, string Layer, int Videos, int Frames, double PeakInBox, double MassInBox, double BoxShare)
{
    /// <summary>Peak-in-box rate over chance.</summary>
    public double PeakRatio => BoxShare > 0 ? PeakInBox / BoxShare : 0;

    /// <summary>Mass-in-box share over chance.</summary>
    public double MassRatio => BoxShare > 0 ? MassInBox / BoxShare : 0;
}

/// <summary>Accumulates the pointing score of one method and layer over clips.</summary>
public sealed class PointingTally(SaliencyMethod method, string layer)
{
    int videos, frames, peaksInside;
    double massInside, boxShare;

    /// <summary>
    /// Adds a map at the view's resolution and each of its frames' boxes in view pixels. A frame without boxes is
    /// skipped; a frame whose map is zero everywhere counts as a miss with no mass inside.
    /// </summary>
    public void Add(SaliencyVolume map, IReadOnlyList<IReadOnlyList<Data.BoundingBox>> boxes)
    {
        bool counted = false;
        for (int t = 0; t < map.Frames; t++)
        {
            if (boxes[t].Count == 0)
                continue;
            var values = map.Frame(t);
            int peak = 0, inside = 0;
            double total = 0, insideMass = 0;
            for (int i = 0; i < values.Length; i++)
            {
                bool isInside = InsideAny(boxes[t], i % map.Width + 0.5, i / map.Width + 0.5);
                total += values[i];
                if (isInside)
                {
                    inside++;
                    insideMass += values[i];
                }
                if (values[i] > values[peak])
                    peak = i;
            }
            if (inside == 0)
                continue;
            frames++;
            counted = true;
            boxShare += inside / (double)values.Length;
            if (total > 0)
            {
                massInside += insideMass / total;
                if (InsideAny(boxes[t], peak % map.Width + 0.5, peak / map.Width + 0.5))
                    peaksInside++;
            }
        }
        if (counted)
            videos++;
    }

    public PointingScore Score() => new(
        Saliency.Name(method), layer, videos, frames,
        frames == 0 ? 0 : peaksInside / (double)frames,
        frames == 0 ? 0 : massInside / frames,
        frames == 0 ? 0 : boxShare / frames);

    static bool InsideAny(IReadOnlyList<Data.BoundingBox> boxes, double x, double y)
    {
        foreach (var box in boxes)
            if (box.Contains(x, y))
                return true;
        return false;
    }
}
