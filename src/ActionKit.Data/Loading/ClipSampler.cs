namespace ActionKit.Data.Loading;

/// <summary>mmaction2's SampleFrames with 0-based frame indices: where each clip starts (random in training,
/// centred in testing), then clip frames at the frame interval, looping past the end of short videos.</summary>
public static class ClipSampler
{
    /// <summary>Centred clip starts (SampleFrames in test mode).</summary>
    public static int[] TestOffsets(int frameCount, int clipLength, int frameInterval, int numClips)
    {
        int span = clipLength * frameInterval;
        var offsets = new int[numClips];
        if (frameCount > span - 1)
        {
            double step = (frameCount - span + 1) / (double)numClips;
            for (int k = 0; k < numClips; k++)
            {
                offsets[k] = (int)(k * step + step / 2);
            }
        }
        return offsets;
    }

    /// <summary>Random clip starts (SampleFrames in train mode): one random start per equal segment when the
    /// video is long enough, else sorted random starts, else evenly spread starts, else zeros.</summary>
    internal static int[] TrainOffsets(int frameCount, int clipLength, int frameInterval, int numClips, Xoshiro256 rng)
    {
        int span = clipLength * frameInterval;
        int segment = FloorDivide(frameCount - span + 1, numClips);
        var offsets = new int[numClips];
        if (segment > 0)
        {
            for (int k = 0; k < numClips; k++)
            {
                offsets[k] = k * segment + rng.NextInt(segment);
            }
        }
        else if (frameCount > Math.Max(numClips, span))
        {
            for (int k = 0; k < numClips; k++)
            {
                offsets[k] = rng.NextInt(frameCount - span + 1);
            }
            Array.Sort(offsets);
        }
        else if (segment == 0)
        {
            double ratio = (frameCount - span + 1.0) / numClips;
            for (int k = 0; k < numClips; k++)
            {
                offsets[k] = (int)Math.Round(k * ratio, MidpointRounding.ToEven);
            }
        }
        return offsets;
    }

    /// <summary>Frame indices of every clip, clip after clip: offset + t * interval, wrapped modulo the frame count.</summary>
    public static int[] FrameIndices(int[] offsets, int frameCount, int clipLength, int frameInterval)
    {
        var indices = new int[offsets.Length * clipLength];
        for (int k = 0; k < offsets.Length; k++)
        {
            for (int t = 0; t < clipLength; t++)
            {
                indices[k * clipLength + t] = (offsets[k] + t * frameInterval) % frameCount;
            }
        }
        return indices;
    }

    // Python's // (rounds toward negative infinity), which the branch tests above depend on.
    private static int FloorDivide(int numerator, int denominator) =>
        (int)Math.Floor(numerator / (double)denominator);
}
