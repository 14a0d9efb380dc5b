namespace ActionKit.Kernels.Cpu;

/// <summary>
/// OpenVINO's FakeQuantize (opset1) with output range = input range, computed as ONNX's QuantizeLinear then
/// DequantizeLinear compute it, so ActionKit's IR executor and ONNX Runtime agree on every level:
/// y = clamp(round(x / s), round(low / s), round(high / s)) · s with s = (high - low) / (levels - 1), rounding half
/// to even. Ranges are per tensor, or per channel of a channels-last tensor [rows, C].
/// </summary>
public static unsafe class FakeQuantize
{
    /// <summary>One value; a range of zero width maps everything to <paramref name="low"/>.</summary>
    public static float Apply(float x, float low, float high, int levels)
    {
        float step = (high - low) / (levels - 1);
        if (step <= 0)
            return low;
        return Math.Clamp(MathF.Round(x / step), MathF.Round(low / step), MathF.Round(high / step)) * step;
    }

    /// <summary>
    /// y [count] = FakeQuantize(x) with range c of <paramref name="ranges"/> (1, or <paramref name="channels"/> for
    /// the channels of rows of x).
    /// </summary>
    public static void Forward(float* y, float* x, float* low, float* high, int ranges, int channels, long count, int levels)
    {
        if (ranges != 1 && ranges != channels)
            throw new ArgumentException($"FakeQuantize: {ranges} ranges do not fit {channels} channels.");
        // Per range: the step and the grid's end points, as Apply computes them.
        var step = new float[ranges];
        var lowest = new float[ranges];
        var highest = new float[ranges];
        for (int c = 0; c < ranges; c++)
        {
            step[c] = (high[c] - low[c]) / (levels - 1);
            (lowest[c], highest[c]) = step[c] > 0 ? (MathF.Round(low[c] / step[c]), MathF.Round(high[c] / step[c])) : (low[c], low[c]);
            if (step[c] <= 0)
                step[c] = 1;
        }
        Elementwise.ForChunks(count, (offset, length) =>
        {
            for (long i = offset; i < offset + length; i++)
            {
                int c = ranges == 1 ? 0 : (int)(i % channels);
                y[i] = Math.Clamp(MathF.Round(x[i] / step[c]), lowest[c], highest[c]) * step[c];
            }
        });
    }
}
