using ILGPU;

namespace ActionKit.Kernels.Gpu;

/// <summary>Mean over the positions of each clip, the twin of <see cref="Cpu.GlobalAveragePool"/>: x [N, S, C] to y [N, C].</summary>
public static class GlobalAveragePool
{
    /// <summary>y[n, c] = mean over s of x[n, s, c]: fixed chunks of positions, then the chunks in order.</summary>
    public static void Forward(GpuKernels gpu, ArrayView<float> y, ArrayView<float> x, int batch, long positions, int channels)
    {
        int chunks = Reduction.ChunkCount(positions);
        var partials = gpu.Scratch(GpuScratch.Partials, (long)batch * chunks * channels);
        Reduction.ColumnPartials(gpu, partials, x, batch, positions, channels, "GlobalAveragePool.Forward");
        gpu.Launch(ForwardKernel, GpuKernels.Extent((long)batch * channels, "GlobalAveragePool.Forward"), y, partials, chunks, positions, channels);
    }

    /// <summary>dx[n, s, c] = (accumulate ? dx : 0) + dy[n, c] / S.</summary>
    public static void Backward(GpuKernels gpu, ArrayView<float> dx, ArrayView<float> dy, int batch, long positions, int channels, bool accumulate) =>
        gpu.Launch(BackwardKernel, GpuKernels.Extent(batch * positions * channels, "GlobalAveragePool.Backward"), dx, dy, positions, channels, accumulate ? 1 : 0);

    static void ForwardKernel(Index1D i, ArrayView<float> y, ArrayView<float> partials, int chunks, long positions, int channels) =>
        y[i] = (float)Reduction.SumChunks(partials, i / channels, chunks, channels, i % channels) * (1f / positions);

    static void BackwardKernel(Index1D i, ArrayView<float> dx, ArrayView<float> dy, long positions, int channels, int accumulate)
    {
        long clip = i / (positions * channels);
        float share = dy[clip * channels + i % channels] * (1f / positions);
        dx[i] = accumulate != 0 ? dx[i] + share : share;
    }
}
