using ILGPU;
using ILGPU.Algorithms;

namespace ActionKit.Kernels.Gpu;

/// <summary>
/// Batch normalization over channels-last rows [rows, C] fused with the activation after it, the twin of
/// <see cref="Cpu.BatchNorm"/>. Training runs three launches: per-chunk sums (<see cref="Reduction"/>), per-channel
/// statistics and coefficients (chunks added in order, in double), and the fused apply; the backward pass has the
/// same shape. Per-channel coefficients live in <see cref="GpuScratch.Coefficients"/> between the launches.
/// </summary>
public static class BatchNorm
{
    /// <summary>
    /// y = act(γ·(x - mean)·invStd + β) with batch statistics; writes mean and invStd [C] for the backward pass and
    /// updates running statistics as PyTorch does (unbiased variance, running = (1-momentum)·running + momentum·batch).
    /// </summary>
    public static void ForwardTraining(GpuKernels gpu, ArrayView<float> y, ArrayView<float> mean, ArrayView<float> invStd,
        ArrayView<float> runningMean, ArrayView<float> runningVar, ArrayView<float> x, ArrayView<float> gamma, ArrayView<float> beta,
        long rows, int channels, float momentum, float epsilon, Activation activation)
    {
        var shape = Shape(rows, channels, "BatchNorm.ForwardTraining");
        var partials = gpu.Scratch(GpuScratch.Partials, 2L * shape.Chunks * channels);
        var coefficients = gpu.Scratch(GpuScratch.Coefficients, 2L * channels);
        gpu.LaunchGrouped(StatisticsKernel, Reduction.PartialsConfig(1, rows, channels, "BatchNorm.ForwardTraining"), partials, x, shape);
        gpu.Launch(NormalizeKernel, channels, coefficients, mean, invStd, runningMean, runningVar, gamma, beta, partials, x, shape, new BatchNormRates(momentum, epsilon));
        Apply(gpu, y, x, coefficients, shape, activation);
    }

    /// <summary>y = act(γ·(x - runningMean)/sqrt(runningVar + ε) + β) (evaluation mode).</summary>
    public static void ForwardInference(GpuKernels gpu, ArrayView<float> y, ArrayView<float> x, ArrayView<float> gamma, ArrayView<float> beta,
        ArrayView<float> runningMean, ArrayView<float> runningVar, long rows, int channels, float epsilon, Activation activation)
    {
        var shape = Shape(rows, channels, "BatchNorm.ForwardInference");
        var coefficients = gpu.Scratch(GpuScratch.Coefficients, 2L * channels);
        gpu.Launch(InferenceCoefficientsKernel, channels, coefficients, gamma, beta, runningMean, runningVar, channels, epsilon);
        Apply(gpu, y, x, coefficients, shape, activation);
    }

    /// <summary>
    /// dx (overwritten), dγ and dβ (accumulated) from dy, the gradient at the activation's output; the activation's
    /// derivative is taken at the pre-activation recomputed from x exactly as the forward pass computed it.
    /// </summary>
    public static void Backward(GpuKernels gpu, ArrayView<float> dx, ArrayView<float> dGamma, ArrayView<float> dBeta, ArrayView<float> dy,
        ArrayView<float> x, ArrayView<float> gamma, ArrayView<float> beta, ArrayView<float> mean, ArrayView<float> invStd,
        long rows, int channels, Activation activation)
    {
        var shape = Shape(rows, channels, "BatchNorm.Backward");
        var partials = gpu.Scratch(GpuScratch.Partials, 2L * shape.Chunks * channels);
        var coefficients = gpu.Scratch(GpuScratch.Coefficients, 5L * channels);
        gpu.Launch(ScaleShiftKernel, channels, coefficients, gamma, beta, mean, invStd, channels);
        gpu.LaunchGrouped(GradientSumsKernel, Reduction.PartialsConfig(1, rows, channels, "BatchNorm.Backward"), partials, x, dy, mean, coefficients, shape, activation);
        gpu.Launch(GradientCoefficientsKernel, channels, dGamma, dBeta, coefficients, partials, gamma, invStd, shape);
        gpu.Launch(BackwardApplyKernel, GpuKernels.Extent(rows * channels, "BatchNorm.Backward"), dx, x, dy, mean, coefficients, shape, activation);
    }

    static BatchNormShape Shape(long rows, int channels, string operation)
    {
        GpuKernels.Extent(rows * channels, operation);
        return new BatchNormShape(rows, channels, Reduction.ChunkCount(rows));
    }

    // coefficients [scale C | bias C]: y = act(x·scale + bias).
    static void Apply(GpuKernels gpu, ArrayView<float> y, ArrayView<float> x, ArrayView<float> coefficients, BatchNormShape shape, Activation activation) =>
        gpu.Launch(ApplyKernel, (int)(shape.Rows * shape.Channels), y, x, coefficients, shape.Channels, activation);

    // Sums of (x - x[0]) and (x - x[0])² rather than of x keep E[x²] - E[x]² exact enough when |mean| >> std.
    static void StatisticsKernel(ArrayView<float> partials, ArrayView<float> x, BatchNormShape shape)
    {
        var shared = SharedMemory.Allocate<float>(GpuKernels.GroupSize);
        bool active = Reduction.Locate(shape.Rows, shape.Channels, out int chunk, out int c);
        Reduction.ChunkRows(chunk, shape.Rows, out long start, out long end);
        float sum = 0, squares = 0;
        if (active)
        {
            float shift = x[c];
            for (long r = start + Reduction.Lane; r < end; r += Reduction.Lanes)
            {
                float d = x[r * shape.Channels + c] - shift;
                sum += d;
                squares += d * d;
            }
        }
        float totalSum = Reduction.SumLanes(shared, sum), totalSquares = Reduction.SumLanes(shared, squares);
        if (active && Reduction.Lane == 0)
        {
            partials[(long)chunk * shape.Channels + c] = totalSum;
            partials[((long)shape.Chunks + chunk) * shape.Channels + c] = totalSquares;
        }
    }

    static void NormalizeKernel(Index1D c, ArrayView<float> coefficients, ArrayView<float> mean, ArrayView<float> invStd,
        ArrayView<float> runningMean, ArrayView<float> runningVar, ArrayView<float> gamma, ArrayView<float> beta,
        ArrayView<float> partials, ArrayView<float> x, BatchNormShape shape, BatchNormRates rates)
    {
        double sum = Reduction.SumChunks(partials, 0, shape.Chunks, shape.Channels, c);
        double squares = Reduction.SumChunks(partials, 1, shape.Chunks, shape.Channels, c);
        double offset = sum / shape.Rows, variance = Math.Max(0, squares / shape.Rows - offset * offset);
        float m = (float)(x[c] + offset), s = (float)(1.0 / XMath.Sqrt(variance + rates.Epsilon));
        mean[c] = m;
        invStd[c] = s;
        double unbiased = shape.Rows > 1 ? variance * shape.Rows / (shape.Rows - 1) : variance;
        runningMean[c] = (1 - rates.Momentum) * runningMean[c] + rates.Momentum * m;
        runningVar[c] = (float)((1 - rates.Momentum) * runningVar[c] + rates.Momentum * unbiased);
        ScaleShift(coefficients, c, shape.Channels, gamma[c], beta[c], m, s);
    }

    // The forward's affine map v = x·scale + bias; the backward pass recomputes it bit for bit from the same floats.
    static void ScaleShift(ArrayView<float> coefficients, int c, int channels, float gamma, float beta, float mean, float invStd)
    {
        float scale = gamma * invStd;
        coefficients[c] = scale;
        coefficients[channels + c] = beta - mean * scale;
    }

    static void ScaleShiftKernel(Index1D c, ArrayView<float> coefficients, ArrayView<float> gamma, ArrayView<float> beta,
        ArrayView<float> mean, ArrayView<float> invStd, int channels) =>
        ScaleShift(coefficients, c, channels, gamma[c], beta[c], mean[c], invStd[c]);

    static void InferenceCoefficientsKernel(Index1D c, ArrayView<float> coefficients, ArrayView<float> gamma, ArrayView<float> beta,
        ArrayView<float> runningMean, ArrayView<float> runningVar, int channels, float epsilon)
    {
        float scale = (float)(gamma[c] / XMath.Sqrt(runningVar[c] + (double)epsilon));
        coefficients[c] = scale;
        coefficients[channels + c] = beta[c] - runningMean[c] * scale;
    }

    static void ApplyKernel(Index1D i, ArrayView<float> y, ArrayView<float> x, ArrayView<float> coefficients, int channels, Activation activation)
    {
        int c = i % channels;
        y[i] = Activations.Forward(x[i] * coefficients[c] + coefficients[channels + c], activation);
    }

    // Σg and Σg·(x - mean) per chunk, with g = act'(x·scale + bias)·dy.
    static void GradientSumsKernel(ArrayView<float> partials, ArrayView<float> x, ArrayView<float> dy, ArrayView<float> mean,
        ArrayView<float> coefficients, BatchNormShape shape, Activation activation)
    {
        var shared = SharedMemory.Allocate<float>(GpuKernels.GroupSize);
        bool active = Reduction.Locate(shape.Rows, shape.Channels, out int chunk, out int c);
        Reduction.ChunkRows(chunk, shape.Rows, out long start, out long end);
        float sumGradient = 0, sumGradientCentered = 0;
        if (active)
        {
            float scale = coefficients[c], bias = coefficients[shape.Channels + c], center = mean[c];
            for (long r = start + Reduction.Lane; r < end; r += Reduction.Lanes)
            {
                long i = r * shape.Channels + c;
                float xv = x[i], g = Activations.Backward(dy[i], xv * scale + bias, activation);
                sumGradient += g;
                sumGradientCentered += g * (xv - center);
            }
        }
        float totalGradient = Reduction.SumLanes(shared, sumGradient), totalCentered = Reduction.SumLanes(shared, sumGradientCentered);
        if (active && Reduction.Lane == 0)
        {
            partials[(long)chunk * shape.Channels + c] = totalGradient;
            partials[((long)shape.Chunks + chunk) * shape.Channels + c] = totalCentered;
        }
    }

    // dx = a·(g - (Σg + x̂·Σg·x̂)/N) = a·g + [-a·Σg·x̂·invStd/N]·(x - mean) - a·Σg/N, coefficients [scale | bias | a | b | k].
    static void GradientCoefficientsKernel(Index1D c, ArrayView<float> dGamma, ArrayView<float> dBeta, ArrayView<float> coefficients,
        ArrayView<float> partials, ArrayView<float> gamma, ArrayView<float> invStd, BatchNormShape shape)
    {
        double sumGradient = Reduction.SumChunks(partials, 0, shape.Chunks, shape.Channels, c);
        double sumXhat = Reduction.SumChunks(partials, 1, shape.Chunks, shape.Channels, c) * invStd[c], a = gamma[c] * invStd[c];
        dBeta[c] += (float)sumGradient;
        dGamma[c] += (float)sumXhat;
        coefficients[2 * shape.Channels + c] = (float)a;
        coefficients[3 * shape.Channels + c] = (float)(-a * sumXhat * invStd[c] / shape.Rows);
        coefficients[4 * shape.Channels + c] = (float)(-a * sumGradient / shape.Rows);
    }

    static void BackwardApplyKernel(Index1D i, ArrayView<float> dx, ArrayView<float> x, ArrayView<float> dy, ArrayView<float> mean,
        ArrayView<float> coefficients, BatchNormShape shape, Activation activation)
    {
        int c = i % shape.Channels, channels = shape.Channels;
        float xv = x[i], g = Activations.Backward(dy[i], xv * coefficients[c] + coefficients[channels + c], activation);
        dx[i] = coefficients[2 * channels + c] * g + (coefficients[3 * channels + c] * (xv - mean[c]) + coefficients[4 * channels + c]);
    }
}

/// <summary>The rows and channels of one batch normalization and its number of row chunks.</summary>
internal readonly struct BatchNormShape(long rows, int channels, int chunks)
{
    public readonly long Rows = rows;
    public readonly int Channels = channels, Chunks = chunks;
}

/// <summary>The running-statistics momentum and the variance epsilon.</summary>
internal readonly struct BatchNormRates(float momentum, float epsilon)
{
    public readonly float Momentum = momentum, Epsilon = epsilon;
}
