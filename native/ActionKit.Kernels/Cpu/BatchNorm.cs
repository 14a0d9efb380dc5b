using System.Numerics;

namespace ActionKit.Kernels.Cpu;

/// <summary>
/// Batch normalization over channels-last rows: x is [rows, C] with rows = N*D*H*W, statistics per channel.
/// Optionally fused with the ReLU that follows it in X3D (one pass over memory instead of two). Every pass walks
/// rows in fixed chunks and vectorizes over channels; per-chunk sums are combined in chunk order, in double.
/// </summary>
public static unsafe class BatchNorm
{
    const int RowsPerChunk = 256;

    /// <summary>
    /// y = γ·(x - mean)·invStd + β with batch statistics; writes mean and invStd [C] for the backward pass and
    /// updates running statistics as PyTorch does (unbiased variance, running = (1-momentum)·running + momentum·batch).
    /// </summary>
    public static void ForwardTraining(float* y, float* mean, float* invStd, float* runningMean, float* runningVar,
        float* x, float* gamma, float* beta, long rows, int channels, float momentum, float epsilon, bool relu)
    {
        // Sums of (x - x[0]) rather than of x keep E[x²] - E[x]² exact enough when |mean| >> std.
        var shift = new ReadOnlySpan<float>(x, channels).ToArray();
        var (sums, squares) = ChannelSums(x, shift, null, null, rows, channels);
        for (int c = 0; c < channels; c++)
        {
            double offset = sums[c] / rows, variance = Math.Max(0, squares[c] / rows - offset * offset);
            mean[c] = (float)(shift[c] + offset);
            invStd[c] = (float)(1.0 / Math.Sqrt(variance + epsilon));
            double unbiased = rows > 1 ? variance * rows / (rows - 1) : variance;
            runningMean[c] = (1 - momentum) * runningMean[c] + momentum * mean[c];
            runningVar[c] = (float)((1 - momentum) * runningVar[c] + momentum * unbiased);
        }
        var scale = new float[channels];
        var bias = new float[channels];
        for (int c = 0; c < channels; c++)
        {
            scale[c] = gamma[c] * invStd[c];
            bias[c] = beta[c] - mean[c] * scale[c];
        }
        ScaleShift(y, x, scale, bias, rows, channels, relu);
    }

    /// <summary>y = γ·(x - runningMean)/sqrt(runningVar + ε) + β (evaluation mode).</summary>
    public static void ForwardInference(float* y, float* x, float* gamma, float* beta, float* runningMean,
        float* runningVar, long rows, int channels, float epsilon, bool relu)
    {
        var scale = new float[channels];
        var bias = new float[channels];
        for (int c = 0; c < channels; c++)
        {
            scale[c] = (float)(gamma[c] / Math.Sqrt(runningVar[c] + (double)epsilon));
            bias[c] = beta[c] - runningMean[c] * scale[c];
        }
        ScaleShift(y, x, scale, bias, rows, channels, relu);
    }

    /// <summary>
    /// dx (overwritten), dγ and dβ (accumulated) from dy. With <paramref name="relu"/>, y is the fused output and
    /// masks dy; otherwise y is not read and may be null.
    /// </summary>
    public static void Backward(float* dx, float* dGamma, float* dBeta, float* dy, float* x, float* y,
        float* gamma, float* mean, float* invStd, long rows, int channels, bool relu)
    {
        var center = new ReadOnlySpan<float>(mean, channels).ToArray();
        // Σg and Σg·(x - mean), with g = dy masked by the fused ReLU.
        var (sumGradient, sumGradientCentered) = ChannelSums(x, center, dy, relu ? y : null, rows, channels);
        var gradientScale = new float[channels];
        var centeredScale = new float[channels];
        var constant = new float[channels];
        for (int c = 0; c < channels; c++)
        {
            double sumXhat = sumGradientCentered[c] * invStd[c], a = gamma[c] * invStd[c];
            dBeta[c] += (float)sumGradient[c];
            dGamma[c] += (float)sumXhat;
            // dx = a·(g - (Σg + x̂·Σg·x̂)/N) = a·g + [-a·Σg·x̂·invStd/N]·(x - mean) - a·Σg/N
            gradientScale[c] = (float)a;
            centeredScale[c] = (float)(-a * sumXhat * invStd[c] / rows);
            constant[c] = (float)(-a * sumGradient[c] / rows);
        }
        CpuParallel.For(CpuParallel.ChunkCount(rows, RowsPerChunk), chunk =>
        {
            long start = (long)chunk * RowsPerChunk, end = Math.Min(rows, start + RowsPerChunk);
            fixed (float* a = gradientScale, b = centeredScale, k = constant, m = center)
                for (long r = start; r < end; r++)
                {
                    long o = r * channels;
                    int c = 0;
                    for (; c <= channels - Vector<float>.Count; c += Vector<float>.Count)
                    {
                        var g = Vector.Load(dy + o + c);
                        if (relu)
                            g = Vector.ConditionalSelect(Vector.GreaterThan(Vector.Load(y + o + c), Vector<float>.Zero), g, Vector<float>.Zero);
                        (Vector.Load(a + c) * g + Vector.Load(b + c) * (Vector.Load(x + o + c) - Vector.Load(m + c)) + Vector.Load(k + c)).Store(dx + o + c);
                    }
                    for (; c < channels; c++)
                    {
                        float g = relu && y[o + c] <= 0 ? 0 : dy[o + c];
                        dx[o + c] = a[c] * g + b[c] * (x[o + c] - m[c]) + k[c];
                    }
                }
        });
    }

    /// <summary>
    /// Per channel, over all rows, with d = x - center: without dy, (Σd, Σd²); with dy, g = dy (zeroed where
    /// mask ≤ 0 when a mask is given) and (Σg, Σg·d). Fixed chunks, reduced in chunk order in double.
    /// </summary>
    static (double[] First, double[] Second) ChannelSums(float* x, float[] center, float* dy, float* mask, long rows, int channels)
    {
        int chunks = CpuParallel.ChunkCount(rows, RowsPerChunk);
        var partial = new double[chunks * 2 * channels];
        CpuParallel.For(chunks, chunk =>
        {
            long start = (long)chunk * RowsPerChunk, end = Math.Min(rows, start + RowsPerChunk);
            float* first = stackalloc float[channels], second = stackalloc float[channels];
            new Span<float>(first, channels).Clear();
            new Span<float>(second, channels).Clear();
            fixed (float* m = center)
                for (long r = start; r < end; r++)
                {
                    long o = r * channels;
                    int c = 0;
                    for (; c <= channels - Vector<float>.Count; c += Vector<float>.Count)
                    {
                        var d = Vector.Load(x + o + c) - Vector.Load(m + c);
                        var weight = d;
                        if (dy != null)
                        {
                            weight = Vector.Load(dy + o + c);
                            if (mask != null)
                                weight = Vector.ConditionalSelect(Vector.GreaterThan(Vector.Load(mask + o + c), Vector<float>.Zero), weight, Vector<float>.Zero);
                            (Vector.Load(first + c) + weight).Store(first + c);
                        }
                        else
                            (Vector.Load(first + c) + d).Store(first + c);
                        (Vector.Load(second + c) + weight * d).Store(second + c);
                    }
                    for (; c < channels; c++)
                    {
                        float d = x[o + c] - m[c];
                        float weight = dy == null ? d : mask != null && mask[o + c] <= 0 ? 0 : dy[o + c];
                        first[c] += dy == null ? d : weight;
                        second[c] += weight * d;
                    }
                }
            for (int c = 0; c < channels; c++)
            {
                partial[(chunk * 2) * channels + c] = first[c];
                partial[(chunk * 2 + 1) * channels + c] = second[c];
            }
        });
        var sums = new double[channels];
        var seconds = new double[channels];
        for (int chunk = 0; chunk < chunks; chunk++)
            for (int c = 0; c < channels; c++)
            {
                sums[c] += partial[(chunk * 2) * channels + c];
                seconds[c] += partial[(chunk * 2 + 1) * channels + c];
            }
        return (sums, seconds);
    }

    static void ScaleShift(float* y, float* x, float[] scale, float[] shift, long rows, int channels, bool relu) =>
        CpuParallel.For(CpuParallel.ChunkCount(rows, RowsPerChunk), chunk =>
        {
            long start = (long)chunk * RowsPerChunk, end = Math.Min(rows, start + RowsPerChunk);
            fixed (float* s = scale, b = shift)
                for (long r = start; r < end; r++)
                {
                    long o = r * channels;
                    int c = 0;
                    for (; c <= channels - Vector<float>.Count; c += Vector<float>.Count)
                    {
                        var v = Vector.Load(x + o + c) * Vector.Load(s + c) + Vector.Load(b + c);
                        (relu ? Vector.Max(v, Vector<float>.Zero) : v).Store(y + o + c);
                    }
                    for (; c < channels; c++)
                    {
                        float v = x[o + c] * s[c] + b[c];
                        y[o + c] = relu && v < 0 ? 0 : v;
                    }
                }
        });
}
