using ILGPU;
using ILGPU.Algorithms;

namespace ActionKit.Kernels.Gpu;

/// <summary>
/// OpenVINO's FakeQuantize with output range = input range, the twin of <see cref="Cpu.FakeQuantize"/>:
/// y = clamp(round(x / s), round(low / s), round(high / s)) · s with s = (high - low) / (levels - 1), rounding half
/// to even; ranges per tensor or per channel of [rows, C].
/// </summary>
public static class FakeQuantize
{
    /// <summary>y [count] = FakeQuantize(x) with range c of <paramref name="ranges"/> (1, or <paramref name="channels"/>).</summary>
    public static void Forward(GpuKernels gpu, ArrayView<float> y, ArrayView<float> x, ArrayView<float> low, ArrayView<float> high,
        int ranges, int channels, long count, int levels)
    {
        if (ranges != 1 && ranges != channels)
            throw new ArgumentException($"FakeQuantize: {ranges} ranges do not fit {channels} channels.");
        gpu.Launch(ForwardKernel, GpuKernels.Extent(count, "FakeQuantize.Forward"), y, x, low, high, ranges == 1 ? 1 : channels, levels);
    }

    static void ForwardKernel(Index1D i, ArrayView<float> y, ArrayView<float> x, ArrayView<float> low, ArrayView<float> high, int ranges, int levels)
    {
        int c = i % ranges;
        float step = (high[c] - low[c]) / (levels - 1);
        if (step <= 0)
        {
            y[i] = low[c];
            return;
        }
        float lowest = XMath.RoundToEven(low[c] / step), highest = XMath.RoundToEven(high[c] / step);
        y[i] = Math.Min(Math.Max(XMath.RoundToEven(x[i] / step), lowest), highest) * step;
    }
}
