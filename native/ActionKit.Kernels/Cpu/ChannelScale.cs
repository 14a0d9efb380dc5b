using System.Runtime.CompilerServices;

namespace ActionKit.Kernels.Cpu;

/// <summary>
/// Per-clip, per-channel scaling (squeeze-excitation's gate) fused with the activation after it (X3D: Swish):
/// y[n, s, c] = act(x[n, s, c] · scale[n, c]), x [N, S, C] with S = D*H*W. Vectorized over channels, the last
/// vector masked.
/// </summary>
public static unsafe class ChannelScale
{
    const int RowsPerChunk = 256;

    /// <summary>y = act(x · scale), the scale broadcast over the S positions of each clip; parallel over fixed row chunks.</summary>
    public static void Forward(float* y, float* x, float* scale, int batch, long positions, int channels, Activation activation) =>
        Activations.Run(new Job(y, null, x, scale, null, batch, positions, channels), activation);

    /// <summary>
    /// g = act'(x · scale) · dy; dx = g · scale and dScale[n, c] = Σ_s g · x (both overwritten); one thread per clip,
    /// positions summed in order.
    /// </summary>
    public static void Backward(float* dx, float* dScale, float* dy, float* x, float* scale, int batch, long positions, int channels, Activation activation) =>
        Activations.Run(new Job(dx, dScale, x, scale, dy, batch, positions, channels), activation);

    readonly struct Job(float* output, float* dScale, float* x, float* scale, float* dy, int batch, long positions, int channels) : IActivationKernel
    {
        public void Run<TActivation, TSimd, TVector>()
            where TActivation : struct, IActivation where TSimd : struct, ISimd<TVector> where TVector : struct
        {
            var job = this;
            if (dy == null)
            {
                long rows = batch * positions;
                CpuParallel.For(CpuParallel.ChunkCount(rows, RowsPerChunk),
                    chunk => job.Rows<TActivation, TSimd, TVector, Off>((long)chunk * RowsPerChunk, Math.Min(rows, (chunk + 1L) * RowsPerChunk)));
            }
            else
                CpuParallel.For(batch, job.BackwardClip<TActivation, TSimd, TVector>);
        }

        void BackwardClip<TActivation, TSimd, TVector>(int n)
            where TActivation : struct, IActivation where TSimd : struct, ISimd<TVector> where TVector : struct
        {
            new Span<float>(dScale + (long)n * channels, channels).Clear();
            Rows<TActivation, TSimd, TVector, On>(n * positions, (n + 1) * positions);
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        void Rows<TActivation, TSimd, TVector, TGradient>(long start, long end)
            where TActivation : struct, IActivation where TSimd : struct, ISimd<TVector> where TVector : struct where TGradient : struct, IFlag
        {
            for (long r = start; r < end; r++)
            {
                long clip = r / positions * channels;
                for (int c = 0; c < channels; c += TSimd.Width)
                {
                    int count = Math.Min(TSimd.Width, channels - c);
                    long o = r * channels + c;
                    TVector xv = TSimd.LoadFirst(x + o, count), s = TSimd.LoadFirst(scale + clip + c, count), v = TSimd.Multiply(xv, s);
                    if (!TGradient.IsOn)
                    {
                        TSimd.StoreFirst(output + o, TActivation.Forward<TSimd, TVector>(v), count);
                        continue;
                    }
                    TVector g = TActivation.Backward<TSimd, TVector>(TSimd.LoadFirst(dy + o, count), v);
                    TSimd.StoreFirst(output + o, TSimd.Multiply(g, s), count);
                    float* sum = dScale + clip + c;
                    TSimd.StoreFirst(sum, TSimd.MultiplyAdd(g, xv, TSimd.LoadFirst(sum, count)), count);
                }
            }
        }
    }
}
