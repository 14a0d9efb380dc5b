using ILGPU;

namespace ActionKit.Kernels.Gpu;

/// <summary>
/// Per-clip, per-channel scaling (squeeze-excitation's gate) fused with the activation after it, the twin of
/// <see cref="Cpu.ChannelScale"/>: y[n, s, c] = act(x[n, s, c] · scale[n, c]), x [N, S, C].
/// </summary>
public static class ChannelScale
{
    /// <summary>y = act(x · scale), one thread per element.</summary>
    public static void Forward(GpuKernels gpu, ArrayView<float> y, ArrayView<float> x, ArrayView<float> scale, int batch, long positions, int channels, Activation activation) =>
        gpu.Launch(ForwardKernel, GpuKernels.Extent(batch * positions * channels, "ChannelScale.Forward"), y, x, scale, positions, channels, activation);

    /// <summary>
    /// g = act'(x · scale) · dy; dx = g · scale and dScale[n, c] = Σ_s g · x (both overwritten): one pass writes dx
    /// and per-chunk sums, a second adds each clip's chunks in order.
    /// </summary>
    public static void Backward(GpuKernels gpu, ArrayView<float> dx, ArrayView<float> dScale, ArrayView<float> dy, ArrayView<float> x,
        ArrayView<float> scale, int batch, long positions, int channels, Activation activation)
    {
        int chunks = Reduction.ChunkCount(positions);
        var partials = gpu.Scratch(GpuScratch.Partials, (long)batch * chunks * channels);
        gpu.LaunchGrouped(BackwardPartialsKernel, Reduction.PartialsConfig(batch, positions, channels, "ChannelScale.Backward"),
            dx, partials, dy, x, scale, new ClipRows(positions, channels), activation);
        gpu.Launch(BackwardSumKernel, GpuKernels.Extent((long)batch * channels, "ChannelScale.Backward"), dScale, partials, chunks, channels);
    }

    static void ForwardKernel(Index1D i, ArrayView<float> y, ArrayView<float> x, ArrayView<float> scale, long positions, int channels, Activation activation)
    {
        long clip = i / (positions * channels);
        y[i] = Activations.Forward(x[i] * scale[clip * channels + i % channels], activation);
    }

    static void BackwardPartialsKernel(ArrayView<float> dx, ArrayView<float> partials, ArrayView<float> dy, ArrayView<float> x,
        ArrayView<float> scale, ClipRows clip, Activation activation)
    {
        var shared = SharedMemory.Allocate<float>(GpuKernels.GroupSize);
        bool active = Reduction.Locate(clip.Positions, clip.Channels, out int clipChunk, out int c);
        Reduction.ChunkRows(clipChunk, clip.Positions, out long start, out long end);
        float sum = 0;
        if (active)
        {
            float s = scale[start / clip.Positions * clip.Channels + c];
            for (long r = start + Reduction.Lane; r < end; r += Reduction.Lanes)
            {
                long i = r * clip.Channels + c;
                float xv = x[i], g = Activations.Backward(dy[i], xv * s, activation);
                dx[i] = g * s;
                sum += g * xv;
            }
        }
        float total = Reduction.SumLanes(shared, sum);
        if (active && Reduction.Lane == 0)
            partials[(long)clipChunk * clip.Channels + c] = total;
    }

    static void BackwardSumKernel(Index1D i, ArrayView<float> dScale, ArrayView<float> partials, int chunks, int channels) =>
        dScale[i] = (float)Reduction.SumChunks(partials, i / channels, chunks, channels, i % channels);
}

/// <summary>The rows of a clip-major tensor [N, S, C]: S positions of C channels per clip.</summary>
internal readonly struct ClipRows(long positions, int channels)
{
    public readonly long Positions = positions;
    public readonly int Channels = channels;
}
