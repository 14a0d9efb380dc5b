using System.Runtime.ExceptionServices;

namespace ActionKit.Kernels.Cpu;

/// <summary>
/// Splits work into chunks whose boundaries depend only on the problem size, never on the thread count or
/// timing, so that reductions that combine per-chunk partial results in chunk order are bit-reproducible.
/// </summary>
public static class CpuParallel
{
    /// <summary>Threads the CPU kernels may use; 1 runs everything inline.</summary>
    public static int MaxThreads { get; set; } = Environment.ProcessorCount;

    // Set while this thread runs a chunk: a loop inside a loop's body runs inline on it (the outer loop already
    // occupies the threads; helpers of helpers would only oversubscribe the cores).
    [ThreadStatic] static bool insideLoop;

    /// <summary>
    /// Runs <paramref name="body"/>(chunk) for chunk in [0, chunks): the calling thread claims chunks one at a time,
    /// and thread-pool helpers claim the rest when they start in time. The caller waits only for helpers that have
    /// started, so a helper that a busy machine delays costs nothing. Called from inside a chunk, it runs inline.
    /// </summary>
    public static void For(int chunks, Action<int> body)
    {
        if (chunks <= 1 || MaxThreads <= 1 || insideLoop)
        {
            for (int i = 0; i < chunks; i++)
                body(i);
            return;
        }
        var team = new Team(chunks, body);
        for (int helper = Math.Min(MaxThreads, chunks) - 1; helper > 0; helper--)
            ThreadPool.UnsafeQueueUserWorkItem(team, preferLocal: false);
        try
        {
            team.Work();
        }
        catch
        {
            team.Stop();
            throw;
        }
        finally
        {
            team.Close();
        }
    }

    /// <summary>Number of chunks of at most <paramref name="chunkSize"/> items that cover <paramref name="count"/>.</summary>
    public static int ChunkCount(long count, long chunkSize) => (int)((count + chunkSize - 1) / chunkSize);

    /// <summary>One parallel loop: a shared chunk counter, and the helpers working on it.</summary>
    sealed class Team(int chunks, Action<int> body) : IThreadPoolWorkItem
    {
        const int Closed = -1;
        readonly object gate = new();
        int nextChunk, activeHelpers;
        ExceptionDispatchInfo? failure;

        // A helper joins unless the caller has closed the loop; the last one to leave wakes the caller.
        public void Execute()
        {
            int active;
            do
            {
                active = Volatile.Read(ref activeHelpers);
                if (active == Closed)
                    return;
            }
            while (Interlocked.CompareExchange(ref activeHelpers, active + 1, active) != active);
            try
            {
                Work();
            }
            catch (Exception exception)
            {
                failure ??= ExceptionDispatchInfo.Capture(exception);
                Stop();
            }
            lock (gate)
                if (Interlocked.Decrement(ref activeHelpers) == 0)
                    Monitor.PulseAll(gate);
        }

        public void Stop() => Interlocked.Exchange(ref nextChunk, chunks);

        public void Work()
        {
            bool outer = insideLoop;
            insideLoop = true;
            try
            {
                for (int chunk; (chunk = Interlocked.Increment(ref nextChunk) - 1) < chunks;)
                    body(chunk);
            }
            finally
            {
                insideLoop = outer;
            }
        }

        // Called once no chunk is left: waits for the helpers still finishing one, then shuts late ones out.
        public void Close()
        {
            var spin = new SpinWait();
            while (Interlocked.CompareExchange(ref activeHelpers, Closed, 0) != 0 && !spin.NextSpinWillYield)
                spin.SpinOnce();
            if (Volatile.Read(ref activeHelpers) != Closed)
                lock (gate)
                    while (Interlocked.CompareExchange(ref activeHelpers, Closed, 0) != 0)
                        Monitor.Wait(gate);
            failure?.Throw();
        }
    }
}
