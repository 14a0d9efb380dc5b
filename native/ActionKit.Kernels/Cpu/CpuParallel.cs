namespace ActionKit.Kernels.Cpu;

/// <summary>
/// Splits work into chunks whose boundaries depend only on the problem size, never on the thread count or
/// timing, so that reductions that combine per-chunk partial results in chunk order are bit-reproducible.
/// </summary>
public static class CpuParallel
{
    /// <summary>Threads the CPU kernels may use; 1 runs everything inline.</summary>
    public static int MaxThreads { get; set; } = Environment.ProcessorCount;

    /// <summary>Runs <paramref name="body"/>(chunk) for chunk in [0, chunks), in parallel when it pays.</summary>
    public static void For(int chunks, Action<int> body)
    {
        if (chunks <= 1 || MaxThreads <= 1)
        {
            for (int i = 0; i < chunks; i++)
                body(i);
            return;
        }
        Parallel.For(0, chunks, new ParallelOptions { MaxDegreeOfParallelism = MaxThreads }, body);
    }

    /// <summary>Number of chunks of at most <paramref name="chunkSize"/> items that cover <paramref name="count"/>.</summary>
    public static int ChunkCount(long count, long chunkSize) => (int)((count + chunkSize - 1) / chunkSize);
}
