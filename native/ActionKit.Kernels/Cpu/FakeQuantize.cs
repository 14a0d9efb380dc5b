using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

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
    /// FakeQuantize, vectorized (<see cref="Levels(Vector256{float}, in Grid)"/>, the same levels as <see cref="Apply"/>).
    /// </summary>
    public static void OnGrid(float* y, float* x, float step, float lowest, float highest, int count)
    {
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var grid = new Grid(step, lowest, highest);
            for (; i + 8 <= count; i += 8)
                (Levels(Vector256.Load(x + i), grid) * grid.Step).Store(y + i);
        }
        for (; i < count; i++)
            y[i] = Math.Clamp(MathF.Round(x[i] / step), lowest, highest) * step;
    }

    /// <summary>A per-tensor grid broadcast for <see cref="Levels(Vector256{float}, in Grid)"/>: its step, the step's reciprocal and its end points.</summary>
    internal readonly struct Grid(float step, float lowest, float highest)
    {
        public readonly Vector256<float> Step = Vector256.Create(step), Reciprocal = Vector256.Create(1f / step);
        public readonly Vector256<float> Bottom = Vector256.Create(lowest * step), Top = Vector256.Create(highest * step);
    }

    /// <summary>A per-tensor grid broadcast 16 wide for <see cref="Levels(Vector512{float}, in Grid512)"/>.</summary>
    internal readonly struct Grid512(float step, float lowest, float highest)
    {
        public readonly Vector512<float> Step = Vector512.Create(step), Reciprocal = Vector512.Create(1f / step);
        public readonly Vector512<float> Bottom = Vector512.Create(lowest * step), Top = Vector512.Create(highest * step);
    }

    /// <summary><see cref="Levels(Vector256{float}, in Grid)"/>, 16 wide (AVX-512F).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<float> Levels(Vector512<float> x, in Grid512 grid)
    {
        x = Vector512.MinNative(Vector512.MaxNative(x, grid.Bottom), grid.Top);
        var estimate = x * grid.Reciprocal;
        return Vector512.Round(Avx512F.FusedMultiplyAdd(Avx512F.FusedMultiplyAddNegated(estimate, grid.Step, x), grid.Reciprocal, estimate));
    }

    /// <summary>
    /// clamp(round(x / step), lowest, highest) as floats, bit for bit what a division gives. x is clamped to
    /// [lowest · step, highest · step] first (a division is monotonic, and those ends divide back to within an ulp of
    /// lowest and highest, so the levels are unchanged and no quotient overflows), then divided by Markstein's sequence:
    /// q = x · (1 / step), r = x - q · step (exact with a fused multiply-add), q + r · (1 / step) is the correctly rounded
    /// quotient. Three multiplies run several times faster than a division, which was half the time of a quantizing pass.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<float> Levels(Vector256<float> x, in Grid grid)
    {
        x = Vector256.MinNative(Vector256.MaxNative(x, grid.Bottom), grid.Top);
        if (!Fma.IsSupported)
            return Vector256.Round(x / grid.Step);
        var estimate = x * grid.Reciprocal;
        return Vector256.Round(Fma.MultiplyAdd(Fma.MultiplyAddNegated(estimate, grid.Step, x), grid.Reciprocal, estimate));
    }
}
