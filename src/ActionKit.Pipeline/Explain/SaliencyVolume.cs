namespace ActionKit.Pipeline.Explain;

/// <summary>A saliency map over a clip: <see cref="Values"/> [Frames, Height, Width], frame after frame, rows top to bottom.</summary>
public sealed record SaliencyVolume(int Frames, int Height, int Width, float[] Values)
{
    public ReadOnlySpan<float> Frame(int t) => Values.AsSpan(t * Height * Width, Height * Width);

    /// <summary>
    /// This map at frames x height x width, linearly interpolated along each axis with sample centres aligned and
    /// edges clamped (cv2.resize's INTER_LINEAR, as the clips themselves are resized).
    /// </summary>
    public SaliencyVolume Resize(int frames, int height, int width)
    {
        var across = Resample(Values, Frames * Height, Width, 1, width);
        var down = Resample(across, Frames, Height, width, height);
        var values = Resample(down, 1, Frames, height * width, frames);
        return new SaliencyVolume(frames, height, width, values);
    }

    // source [outer, length, inner] to [outer, newLength, inner], interpolating along the middle axis.
    static float[] Resample(float[] source, int outer, int length, int inner, int newLength)
    {
        var result = new float[outer * newLength * inner];
        double scale = length / (double)newLength;
        for (int i = 0; i < newLength; i++)
        {
            double position = Math.Clamp((i + 0.5) * scale - 0.5, 0, length - 1);
            int first = (int)position, second = Math.Min(first + 1, length - 1);
            float weight = (float)(position - first);
            for (int o = 0; o < outer; o++)
            {
                var a = source.AsSpan((o * length + first) * inner, inner);
                var b = source.AsSpan((o * length + second) * inner, inner);
                var target = result.AsSpan((o * newLength + i) * inner, inner);
                for (int k = 0; k < inner; k++)
                    target[k] = a[k] + (b[k] - a[k]) * weight;
            }
        }
        return result;
    }
}
