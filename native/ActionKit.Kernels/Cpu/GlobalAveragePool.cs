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

    /// <summary>Between one clip's channel vector (pooled [N, C]) and its positions (spread [N, S, C]).</summary>
    readonly struct Job(float* pooled, float* spread, int batch, long positions, int channels, bool backward, bool accumulate) : ISimdKernel
    {
        public void Run<TSimd, TVector>() where TSimd : struct, ISimd<TVector> where TVector : struct
        {
            var job = this;
            CpuParallel.For(batch, job.Clip<TSimd, TVector>);
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        void Clip<TSimd, TVector>(int n) where TSimd : struct, ISimd<TVector> where TVector : struct
        {
            float* clipPooled = pooled + (long)n * channels, clip = spread + n * positions * channels;
            TVector inverse = TSimd.Broadcast(1f / positions);
            for (int c = 0; c < channels; c += TSimd.Width)
            {
                int lanes = Math.Min(TSimd.Width, channels - c);
                if (backward)
                {
                    TVector share = TSimd.Multiply(TSimd.LoadFirst(clipPooled + c, lanes), inverse);
                    for (long s = 0; s < positions; s++)
                    {
                        float* target = clip + s * channels + c;
                        TSimd.StoreFirst(target, accumulate ? TSimd.Add(TSimd.LoadFirst(target, lanes), share) : share, lanes);
                    }
                    continue;
                }
                TVector sum = TSimd.Zero;
                for (long s = 0; s < positions; s++)
                    sum = TSimd.Add(sum, TSimd.LoadFirst(clip + s * channels + c, lanes));
                TSimd.StoreFirst(clipPooled + c, TSimd.Multiply(sum, inverse), lanes);
            }
        }
    }
}
