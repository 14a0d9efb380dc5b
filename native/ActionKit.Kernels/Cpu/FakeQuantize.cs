using System.Runtime.Intrinsics;

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
        if (ranges == 1)
        {
            float s = step[0], bottom = lowest[0], top = highest[0];
            Elementwise.ForChunks(count, (offset, length) => OnGrid(y + offset, x + offset, s, bottom, top, length));
            return;
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

    /// <summary>
    /// y = clamp(round(x / step), lowest, highest) · step over <paramref name="count"/> values, one range: the per-tensor
    /// FakeQuantize, vectorized (a division and rounding half to even, as <see cref="Apply"/> computes it).
    /// </summary>
    public static void OnGrid(float* y, float* x, float step, float lowest, float highest, int count)
    {
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            Vector256<float> divisor = Vector256.Create(step), bottom = Vector256.Create(lowest), top = Vector256.Create(highest);
            for (; i + 8 <= count; i += 8)
                (Vector256.Min(Vector256.Max(Vector256.Round(Vector256.Load(x + i) / divisor), bottom), top) * divisor).Store(y + i);
        }
        for (; i < count; i++)
            y[i] = Math.Clamp(MathF.Round(x[i] / step), lowest, highest) * step;
    }
}
