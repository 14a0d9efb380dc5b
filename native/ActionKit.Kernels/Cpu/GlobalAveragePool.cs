using System.Numerics.Tensors;
using System.Runtime.CompilerServices;

namespace ActionKit.Kernels.Cpu;

/// <summary>Mean over the positions of each clip: x [N, S, C] (S = D*H*W) to y [N, C]. One thread per clip.</summary>
public static unsafe class GlobalAveragePool
{
    /// <summary>y[n, c] = mean over s of x[n, s, c], positions summed in order.</summary>
    public static void Forward(float* y, float* x, int batch, long positions, int channels)
    {
        var job = new Job(y, x, batch, positions, channels, backward: false, accumulate: false);
        Simd.Run(ref job, int.MaxValue);
    }

    /// <summary>dx[n, s, c] = (accumulate ? dx : 0) + dy[n, c] / S.</summary>
    public static void Backward(float* dx, float* dy, int batch, long positions, int channels, bool accumulate)
    {
        var job = new Job(dy, dx, batch, positions, channels, backward: true, accumulate);
        Simd.Run(ref job, int.MaxValue);
    }

    /// <summary>
    /// y[n, c] = mean over the clip's positions from sums already taken per row: rowSums [N, rows, C] holds each row's
    /// sum over its positions (a kernel that writes the pooled tensor takes them as it goes, while the row is in cache),
    /// added here in row order.
    /// </summary>
    public static void FromRowSums(float* y, float* rowSums, int batch, int rows, long positions, int channels)
    {
        float inverse = 1f / positions;
        for (int n = 0; n < batch; n++)
        {
            var sum = new Span<float>(y + (long)n * channels, channels);
            sum.Clear();
            for (int r = 0; r < rows; r++)
                TensorPrimitives.Add(sum, new ReadOnlySpan<float>(rowSums + ((long)n * rows + r) * channels, channels), sum);
            TensorPrimitives.Multiply(sum, inverse, sum);
        }
    }

    /// <summary>Between one clip's channel vector (pooled [N, C]) and its positions (spread [N, S, C]).</summary>
    readonly struct Job(float* pooled, float* spread, int batch, long positions, int channels, bool backward, bool accumulate) : ISimdKernel
    {
        public void Run<TSimd, TVector>() where TSimd : struct, ISimd<TVector> where TVector : struct
        {
            var job = this;
            CpuParallel.For(batch, job.Clip<TSimd, TVector>);
        }

        // Row by row, so that each row is read or written once while the clip's channel vector stays in L1.
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        void Clip<TSimd, TVector>(int n) where TSimd : struct, ISimd<TVector> where TVector : struct
        {
            float* clipPooled = pooled + (long)n * channels, clip = spread + n * positions * channels;
            float* share = stackalloc float[channels];
            float inverse = 1f / positions;
            if (backward)
                for (int c = 0; c < channels; c++)
                    share[c] = clipPooled[c] * inverse;
            else
                new Span<float>(share, channels).Clear();
            for (long s = 0; s < positions; s++)
                for (int c = 0; c < channels; c += TSimd.Width)
                {
                    int lanes = Math.Min(TSimd.Width, channels - c);
                    float* row = clip + s * channels + c;
                    TVector value = TSimd.LoadFirst(share + c, lanes);
                    if (!backward)
                        TSimd.StoreFirst(share + c, TSimd.Add(value, TSimd.LoadFirst(row, lanes)), lanes);
                    else
                        TSimd.StoreFirst(row, accumulate ? TSimd.Add(TSimd.LoadFirst(row, lanes), value) : value, lanes);
                }
            if (!backward)
                for (int c = 0; c < channels; c++)
                    clipPooled[c] = share[c] * inverse;
        }
    }
}
