using System.Numerics;

namespace ActionKit.Kernels.Cpu;

/// <summary>
/// Batch normalization over channels-last rows: x is [rows, C] with rows = N*D*H*W, statistics per channel.
/// Optionally fused with the ReLU that follows it in X3D (one pass over memory instead of two).
/// </summary>
public static unsafe class BatchNorm
{
    const int RowsPerChunk = 512;

    /// <summary>
    /// y = γ·(x - mean)·invStd + β with batch statistics; writes mean and invStd [C] for the backward pass and
    /// updates running statistics as PyTorch does (unbiased variance, running = (1-momentum)·running + momentum·batch).
    /// </summary>
    public static void ForwardTraining(float* y, float* mean, float* invStd, float* runningMean, float* runningVar,
        float* x, float* gamma, float* beta, long rows, int channels, float momentum, float epsilon, bool relu)
    {
        var sums = ChannelSums(x, null, rows, channels);
        for (int c = 0; c < channels; c++)
            mean[c] = (float)(sums[c] / rows);
        var squares = ChannelSums(x, mean, rows, channels);
        for (int c = 0; c < channels; c++)
        {
            double variance = squares[c] / rows;
            invStd[c] = (float)(1.0 / Math.Sqrt(variance + epsilon));
            double unbiased = rows > 1 ? variance * rows / (rows - 1) : variance;
            runningMean[c] = (1 - momentum) * runningMean[c] + momentum * mean[c];
            runningVar[c] = (float)((1 - momentum) * runningVar[c] + momentum * unbiased);
        }
        Normalize(y, x, gamma, beta, mean, invStd, rows, channels, relu);
    }

    /// <summary>y = γ·(x - runningMean)/sqrt(runningVar + ε) + β (evaluation mode).</summary>
    public static void ForwardInference(float* y, float* x, float* gamma, float* beta, float* runningMean,
        float* runningVar, long rows, int channels, float epsilon, bool relu)
    {
        var invStd = stackalloc float[channels];
        for (int c = 0; c < channels; c++)
            invStd[c] = (float)(1.0 / Math.Sqrt(runningVar[c] + (double)epsilon));
        Normalize(y, x, gamma, beta, runningMean, invStd, rows, channels, relu);
    }

    /// <summary>
    /// dx (overwritten), dγ and dβ (accumulated) from dy. With <paramref name="relu"/>, y is the fused output and
    /// masks dy; otherwise y is not read and may be null.
    /// </summary>
    public static void Backward(float* dx, float* dGamma, float* dBeta, float* dy, float* x, float* y,
        float* gamma, float* mean, float* invStd, long rows, int channels, bool relu)
    {
        int chunks = CpuParallel.ChunkCount(rows, RowsPerChunk);
        var partial = new double[chunks, 2 * channels];
        CpuParallel.For(chunks, chunk =>
        {
            long start = (long)chunk * RowsPerChunk, end = Math.Min(rows, start + RowsPerChunk);
            Span<float> sumDy = stackalloc float[channels], sumDyXhat = stackalloc float[channels];
            for (long r = start; r < end; r++)
            {
                float* xr = x + r * channels, dyr = dy + r * channels, yr = y + r * channels;
                for (int c = 0; c < channels; c++)
                {
                    float g = relu && yr[c] <= 0 ? 0 : dyr[c];
                    sumDy[c] += g;
                    sumDyXhat[c] += g * (xr[c] - mean[c]) * invStd[c];
                }
            }
            for (int c = 0; c < channels; c++)
            {
                partial[chunk, c] = sumDy[c];
                partial[chunk, channels + c] = sumDyXhat[c];
            }
        });
        var dBetaLocal = new float[channels];
        var dGammaLocal = new float[channels];
        for (int c = 0; c < channels; c++)
        {
            double sb = 0, sg = 0;
            for (int chunk = 0; chunk < chunks; chunk++)
            {
                sb += partial[chunk, c];
                sg += partial[chunk, channels + c];
            }
            dBetaLocal[c] = (float)sb;
            dGammaLocal[c] = (float)sg;
            dBeta[c] += dBetaLocal[c];
            dGamma[c] += dGammaLocal[c];
        }
        float inverseRows = 1f / rows;
        CpuParallel.For(chunks, chunk =>
        {
            long start = (long)chunk * RowsPerChunk, end = Math.Min(rows, start + RowsPerChunk);
            for (long r = start; r < end; r++)
            {
                float* xr = x + r * channels, dyr = dy + r * channels, yr = y + r * channels, dxr = dx + r * channels;
                for (int c = 0; c < channels; c++)
                {
                    float g = relu && yr[c] <= 0 ? 0 : dyr[c];
                    float xhat = (xr[c] - mean[c]) * invStd[c];
                    dxr[c] = gamma[c] * invStd[c] * (g - inverseRows * (dBetaLocal[c] + xhat * dGammaLocal[c]));
                }
            }
        });
    }

    // Σ x per channel, or Σ (x - center)² when center is given; fixed chunks reduced in order, in double.
    static double[] ChannelSums(float* x, float* center, long rows, int channels)
    {
        int chunks = CpuParallel.ChunkCount(rows, RowsPerChunk);
        var partial = new double[chunks, channels];
        CpuParallel.For(chunks, chunk =>
        {
            long start = (long)chunk * RowsPerChunk, end = Math.Min(rows, start + RowsPerChunk);
            Span<float> acc = stackalloc float[channels];
            for (long r = start; r < end; r++)
            {
                float* xr = x + r * channels;
                if (center == null)
                    for (int c = 0; c < channels; c++)
                        acc[c] += xr[c];
                else
                    for (int c = 0; c < channels; c++)
                    {
                        float d = xr[c] - center[c];
                        acc[c] += d * d;
                    }
            }
            for (int c = 0; c < channels; c++)
                partial[chunk, c] = acc[c];
        });
        var sums = new double[channels];
        for (int chunk = 0; chunk < chunks; chunk++)
            for (int c = 0; c < channels; c++)
                sums[c] += partial[chunk, c];
        return sums;
    }

    static void Normalize(float* y, float* x, float* gamma, float* beta, float* mean, float* invStd,
        long rows, int channels, bool relu)
    {
        var scale = new float[channels];
        var shift = new float[channels];
        for (int c = 0; c < channels; c++)
        {
            scale[c] = gamma[c] * invStd[c];
            shift[c] = beta[c] - mean[c] * scale[c];
        }
        int chunks = CpuParallel.ChunkCount(rows, RowsPerChunk);
        CpuParallel.For(chunks, chunk =>
        {
            long start = (long)chunk * RowsPerChunk, end = Math.Min(rows, start + RowsPerChunk);
            fixed (float* s = scale, b = shift)
                for (long r = start; r < end; r++)
                    ScaleShiftRow(y + r * channels, x + r * channels, s, b, channels, relu);
        });
    }

    static void ScaleShiftRow(float* y, float* x, float* scale, float* shift, int channels, bool relu)
    {
        int c = 0;
        if (Vector.IsHardwareAccelerated)
            for (; c <= channels - Vector<float>.Count; c += Vector<float>.Count)
            {
                var v = Vector.Load(x + c) * Vector.Load(scale + c) + Vector.Load(shift + c);
                (relu ? Vector.Max(v, Vector<float>.Zero) : v).Store(y + c);
            }
        for (; c < channels; c++)
        {
            float v = x[c] * scale[c] + shift[c];
            y[c] = relu && v < 0 ? 0 : v;
        }
    }
}
