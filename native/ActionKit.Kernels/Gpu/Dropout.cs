using ILGPU;

namespace ActionKit.Kernels.Gpu;

/// <summary>
/// Inverted dropout, the twin of <see cref="Cpu.Dropout"/>: element i's draw is <see cref="Cpu.CounterRandom"/>'s
/// (seed, i), so the GPU's mask is the CPU's, bit for bit.
/// </summary>
public static class Dropout
{
    /// <summary>mask[i] = 0 with probability p, else 1/(1-p); y = x · mask.</summary>
    public static void Forward(GpuKernels gpu, ArrayView<float> y, ArrayView<float> mask, ArrayView<float> x, long count, float probability, ulong seed) =>
        gpu.Launch(ForwardKernel, GpuKernels.Extent(count, "Dropout.Forward"), y, mask, x, probability, 1f / (1f - probability), seed);

    /// <summary>dx = dy · mask (overwritten).</summary>
    public static void Backward(GpuKernels gpu, ArrayView<float> dx, ArrayView<float> dy, ArrayView<float> mask, long count) =>
        gpu.Launch(BackwardKernel, GpuKernels.Extent(count, "Dropout.Backward"), dx, dy, mask);

    static void ForwardKernel(Index1D i, ArrayView<float> y, ArrayView<float> mask, ArrayView<float> x, float probability, float keep, ulong seed)
    {
        float m = Cpu.CounterRandom.Uniform(seed, (ulong)i.X) < probability ? 0f : keep;
        mask[i] = m;
        y[i] = x[i] * m;
    }

    static void BackwardKernel(Index1D i, ArrayView<float> dx, ArrayView<float> dy, ArrayView<float> mask) => dx[i] = dy[i] * mask[i];
}
