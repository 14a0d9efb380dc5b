using ILGPU;
using ILGPU.Algorithms;

namespace ActionKit.Kernels.Gpu;

/// <summary>
/// Elementwise kernels on flat buffers (one thread per element), the twins of <see cref="Cpu.Elementwise"/>, plus
/// the two reductions the trainer's gradient clipping needs on the device.
/// </summary>
public static class Elementwise
{
    /// <summary>Elements summed by one thread of <see cref="SumOfSquares"/>'s first pass.</summary>
    const int ElementsPerChunk = 4096;

    /// <summary>y = max(x, 0).</summary>
    public static void Relu(GpuKernels gpu, ArrayView<float> y, ArrayView<float> x, long count) =>
        gpu.Launch(ReluKernel, GpuKernels.Extent(count, "Relu"), y, x);

    /// <summary>dx = dy where y &gt; 0, else 0 (overwritten).</summary>
    public static void ReluBackward(GpuKernels gpu, ArrayView<float> dx, ArrayView<float> dy, ArrayView<float> y, long count) =>
        gpu.Launch(ReluBackwardKernel, GpuKernels.Extent(count, "ReluBackward"), dx, dy, y);

    /// <summary>y = 1 / (1 + e^-x).</summary>
    public static void Sigmoid(GpuKernels gpu, ArrayView<float> y, ArrayView<float> x, long count) =>
        gpu.Launch(SigmoidKernel, GpuKernels.Extent(count, "Sigmoid"), y, x);

    /// <summary>y = x · sigmoid(x) (SiLU).</summary>
    public static void Swish(GpuKernels gpu, ArrayView<float> y, ArrayView<float> x, long count) =>
        gpu.Launch(SwishKernel, GpuKernels.Extent(count, "Swish"), y, x);

    /// <summary>dx = dy · y · (1 - y), with y the sigmoid's output (overwritten).</summary>
    public static void SigmoidBackward(GpuKernels gpu, ArrayView<float> dx, ArrayView<float> dy, ArrayView<float> y, long count) =>
        gpu.Launch(SigmoidBackwardKernel, GpuKernels.Extent(count, "SigmoidBackward"), dx, dy, y);

    /// <summary>y = a + b, then ReLU when <paramref name="relu"/> (the residual join of a bottleneck block).</summary>
    public static void Add(GpuKernels gpu, ArrayView<float> y, ArrayView<float> a, ArrayView<float> b, long count, bool relu) =>
        gpu.Launch(AddKernel, GpuKernels.Extent(count, "Add"), y, a, b, relu ? 1 : 0);

    /// <summary>y += x.</summary>
    public static void AddInPlace(GpuKernels gpu, ArrayView<float> y, ArrayView<float> x, long count) =>
        gpu.Launch(AddInPlaceKernel, GpuKernels.Extent(count, "AddInPlace"), y, x);

    /// <summary>x *= factor.</summary>
    public static void Scale(GpuKernels gpu, ArrayView<float> x, float factor, long count) =>
        gpu.Launch(ScaleKernel, GpuKernels.Extent(count, "Scale"), x, factor);

    /// <summary>x = value.</summary>
    public static void Fill(GpuKernels gpu, ArrayView<float> x, float value, long count) =>
        gpu.Launch(FillKernel, GpuKernels.Extent(count, "Fill"), x, value);

    /// <summary>
    /// total[0] = (accumulate ? total[0] : 0) + Σ x²: fixed chunks summed in float, then the chunks in order in
    /// double, so the gradient norm over many tensors is summed on the device and read back only when logged.
    /// </summary>
    public static void SumOfSquares(GpuKernels gpu, ArrayView<float> total, ArrayView<float> x, long count, bool accumulate)
    {
        int chunks = (int)((count + ElementsPerChunk - 1) / ElementsPerChunk);
        var partials = gpu.Scratch(GpuScratch.Partials, chunks);
        gpu.Launch(SquaresChunkKernel, GpuKernels.Extent(chunks, "SumOfSquares"), partials, x, count);
        gpu.Launch(SumChunksKernel, 1, total, partials, chunks, accumulate ? 1 : 0);
    }

    /// <summary>
    /// x *= maxNorm / (sqrt(sumOfSquares[0]) + 1e-6) when the norm exceeds maxNorm (PyTorch's clip_grad_norm_, as the CPU backend): gradient-norm clipping with the norm left on the device
    /// (<see cref="SumOfSquares"/>); a zero norm leaves x as it is.
    /// </summary>
    public static void ClipByNorm(GpuKernels gpu, ArrayView<float> x, ArrayView<float> sumOfSquares, float maxNorm, long count) =>
        gpu.Launch(ClipByNormKernel, GpuKernels.Extent(count, "ClipByNorm"), x, sumOfSquares, maxNorm);

    static void ReluKernel(Index1D i, ArrayView<float> y, ArrayView<float> x) => y[i] = Math.Max(x[i], 0f);

    static void ReluBackwardKernel(Index1D i, ArrayView<float> dx, ArrayView<float> dy, ArrayView<float> y) =>
        dx[i] = y[i] > 0 ? dy[i] : 0f;

    static void SigmoidKernel(Index1D i, ArrayView<float> y, ArrayView<float> x) => y[i] = Activations.Sigmoid(x[i]);

    static void SwishKernel(Index1D i, ArrayView<float> y, ArrayView<float> x) => y[i] = Activations.Forward(x[i], Activation.Swish);

    static void SigmoidBackwardKernel(Index1D i, ArrayView<float> dx, ArrayView<float> dy, ArrayView<float> y) =>
        dx[i] = dy[i] * (y[i] * (1f - y[i]));

    static void AddKernel(Index1D i, ArrayView<float> y, ArrayView<float> a, ArrayView<float> b, int relu)
    {
        float sum = a[i] + b[i];
        y[i] = relu != 0 ? Math.Max(sum, 0f) : sum;
    }

    static void AddInPlaceKernel(Index1D i, ArrayView<float> y, ArrayView<float> x) => y[i] += x[i];

    static void ScaleKernel(Index1D i, ArrayView<float> x, float factor) => x[i] *= factor;

    static void FillKernel(Index1D i, ArrayView<float> x, float value) => x[i] = value;

    static void SquaresChunkKernel(Index1D chunk, ArrayView<float> partials, ArrayView<float> x, long count)
    {
        long start = (long)chunk.X * ElementsPerChunk, end = Math.Min(count, start + ElementsPerChunk);
        float sum = 0;
        for (long i = start; i < end; i++)
            sum += x[i] * x[i];
        partials[chunk] = sum;
    }

    static void SumChunksKernel(Index1D index, ArrayView<float> total, ArrayView<float> partials, int chunks, int accumulate)
    {
        double sum = accumulate != 0 ? total[0] : 0;
        for (int chunk = 0; chunk < chunks; chunk++)
            sum += partials[chunk];
        total[0] = (float)sum;
    }

    static void ClipByNormKernel(Index1D i, ArrayView<float> x, ArrayView<float> sumOfSquares, float maxNorm)
    {
        float norm = XMath.Sqrt(sumOfSquares[0]);
        if (norm > maxNorm)
            x[i] *= maxNorm / (norm + 1e-6f);
    }
}
