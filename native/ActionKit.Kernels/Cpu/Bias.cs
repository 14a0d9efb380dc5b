using System.Numerics.Tensors;

namespace ActionKit.Kernels.Cpu;

/// <summary>Per-channel bias on rows: y [rows, C] += bias [C]; its backward sums dy over rows.</summary>
public static unsafe class Bias
{
    const int RowsPerChunk = 1024;

    /// <summary>y[r, c] += bias[c].</summary>
    public static void Forward(float* y, float* bias, long rows, int channels) =>
        Elementwise.ForChunks(rows, (row, count) =>
        {
            var b = new ReadOnlySpan<float>(bias, channels);
            for (long r = row; r < row + count; r++)
            {
                var yr = new Span<float>(y + r * channels, channels);
                TensorPrimitives.Add(yr, b, yr);
            }
        });

    /// <summary>dBias[c] += Σ_r dy[r, c] over rows = clips · rows per clip, summed in <see cref="BatchTree"/> order.</summary>
    public static void Backward(float* dBias, float* dy, long rows, int channels, int clips)
    {
        long rowsPerClip = BatchTree.RowsPerClip(rows, clips);
        int chunksPerClip = CpuParallel.ChunkCount(rowsPerClip, RowsPerChunk);
        float* partials = Scratch.Get(ScratchSlot.CallPartials, (long)clips * chunksPerClip * channels);
        CpuParallel.For(clips * chunksPerClip, chunk =>
        {
            var sum = new Span<float>(partials + (long)chunk * channels, channels);
            sum.Clear();
            long start = chunk / chunksPerClip * rowsPerClip + (long)(chunk % chunksPerClip) * RowsPerChunk;
            long end = Math.Min(chunk / chunksPerClip * rowsPerClip + rowsPerClip, start + RowsPerChunk);
            for (long r = start; r < end; r++)
                TensorPrimitives.Add(sum, new ReadOnlySpan<float>(dy + r * channels, channels), sum);
        });
        BatchTree.Reduce(partials, channels, clips, chunksPerClip);
        var total = new Span<float>(dBias, channels);
        TensorPrimitives.Add(total, new ReadOnlySpan<float>(partials, channels), total);
    }
}
