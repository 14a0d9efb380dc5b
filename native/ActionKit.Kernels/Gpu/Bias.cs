using ILGPU;

namespace ActionKit.Kernels.Gpu;

/// <summary>Per-channel bias on rows, the twin of <see cref="Cpu.Bias"/>: y [rows, C] += bias [C]; backward sums dy over rows.</summary>
public static class Bias
{
    /// <summary>y[r, c] += bias[c].</summary>
    public static void Forward(GpuKernels gpu, ArrayView<float> y, ArrayView<float> bias, long rows, int channels) =>
        gpu.Launch(ForwardKernel, GpuKernels.Extent(rows * channels, "Bias.Forward"), y, bias, channels);

    /// <summary>dBias[c] += Σ_r dy[r, c], per fixed chunk then in chunk order.</summary>
    public static void Backward(GpuKernels gpu, ArrayView<float> dBias, ArrayView<float> dy, long rows, int channels)
    {
        int chunks = Reduction.ChunkCount(rows);
        var partials = gpu.Scratch(GpuScratch.Partials, (long)chunks * channels);
        Reduction.ColumnPartials(gpu, partials, dy, 1, rows, channels, "Bias.Backward");
        gpu.Launch(BackwardKernel, channels, dBias, partials, chunks, channels);
    }

    static void ForwardKernel(Index1D i, ArrayView<float> y, ArrayView<float> bias, int channels) => y[i] += bias[i % channels];

    static void BackwardKernel(Index1D c, ArrayView<float> dBias, ArrayView<float> partials, int chunks, int channels) =>
        dBias[c] += (float)Reduction.SumChunks(partials, 0, chunks, channels, c);
}
