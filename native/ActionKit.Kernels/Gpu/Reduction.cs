using ILGPU;

namespace ActionKit.Kernels.Gpu;

/// <summary>
/// The deterministic column sums behind every per-channel reduction: rows [rows, C] are cut into fixed chunks of
/// <see cref="RowsPerChunk"/>; a group of 32 channels x 8 lanes sums one chunk (each lane every 8th row, then the
/// 8 lanes in order through shared memory) into partials [chunk, C]; a second pass adds the chunks in order.
/// No atomics, and every boundary depends only on the sizes, so the bits never change between runs.
/// </summary>
internal static class Reduction
{
    public const int Channels = 32;
    public const int Lanes = GpuKernels.GroupSize / Channels;
    public const int RowsPerChunk = 256;

    public static int ChunkCount(long rows) => (int)((rows + RowsPerChunk - 1) / RowsPerChunk);

    public static int ChannelTiles(int channels) => (channels + Channels - 1) / Channels;

    /// <summary>This thread's channel within its group's tile of 32 (consecutive threads, consecutive channels).</summary>
    public static int Channel => Group.IdxX % Channels;

    /// <summary>This thread's lane: which of every 8 rows it sums.</summary>
    public static int Lane => Group.IdxX / Channels;

    /// <summary>The sum of <paramref name="value"/> over the 8 lanes of this thread's channel, in lane order (valid in lane 0).</summary>
    public static float SumLanes(ArrayView<float> shared, float value)
    {
        shared[Group.IdxX] = value;
        Group.Barrier();
        float total = 0;
        if (Lane == 0)
            for (int lane = 0; lane < Lanes; lane++)
                total += shared[lane * Channels + Channel];
        Group.Barrier();
        return total;
    }

    /// <summary>
    /// partials [segment, chunk, C] = Σ x over the chunk's rows of each segment of <paramref name="segmentRows"/>
    /// rows (a clip's positions, or all rows as one segment); launch with <see cref="PartialsConfig"/>.
    /// </summary>
    public static void ColumnPartials(GpuKernels gpu, ArrayView<float> partials, ArrayView<float> x, int segments, long segmentRows, int channels, string operation) =>
        gpu.LaunchGrouped(ColumnPartialsKernel, PartialsConfig(segments, segmentRows, channels, operation), partials, x, segmentRows, channels);

    /// <summary>One group per (segment, chunk, tile of 32 channels).</summary>
    public static KernelConfig PartialsConfig(int segments, long segmentRows, int channels, string operation) =>
        GpuKernels.Groups((long)segments * ChunkCount(segmentRows) * ChannelTiles(channels), operation);

    /// <summary>The (segment · chunks + chunk, channel) of this thread's group; false for the padding channels of the last tile.</summary>
    public static bool Locate(long segmentRows, int channels, out int segmentChunk, out int channel)
    {
        int tiles = ChannelTiles(channels);
        segmentChunk = Grid.IdxX / tiles;
        channel = Grid.IdxX % tiles * Channels + Channel;
        return channel < channels;
    }

    /// <summary>The rows [start, end) of a chunk within its segment, as absolute row numbers.</summary>
    public static void ChunkRows(int segmentChunk, long segmentRows, out long start, out long end)
    {
        int chunks = ChunkCount(segmentRows);
        long segmentStart = segmentChunk / chunks * segmentRows;
        long offset = (long)(segmentChunk % chunks) * RowsPerChunk;
        start = segmentStart + offset;
        end = segmentStart + Math.Min(segmentRows, offset + RowsPerChunk);
    }

    static void ColumnPartialsKernel(ArrayView<float> partials, ArrayView<float> x, long segmentRows, int channels)
    {
        var shared = SharedMemory.Allocate<float>(GpuKernels.GroupSize);
        bool active = Locate(segmentRows, channels, out int segmentChunk, out int c);
        ChunkRows(segmentChunk, segmentRows, out long start, out long end);
        float sum = 0;
        if (active)
            for (long r = start + Lane; r < end; r += Lanes)
                sum += x[r * channels + c];
        float total = SumLanes(shared, sum);
        if (active && Lane == 0)
            partials[(long)segmentChunk * channels + c] = total;
    }

    /// <summary>Σ over the chunks of one segment, in chunk order, of partials [segment, chunk, width] at column <paramref name="column"/>.</summary>
    public static double SumChunks(ArrayView<float> partials, int segment, int chunks, int width, int column)
    {
        double sum = 0;
        for (int chunk = 0; chunk < chunks; chunk++)
            sum += partials[((long)segment * chunks + chunk) * width + column];
        return sum;
    }
}
