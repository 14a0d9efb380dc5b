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
    /// Runs <paramref name="body"/>(chunk) for chunk in [0, chunks): the calling thread claims chunks one at a time
    /// from the front, and helpers claim the rest from the back when they start in time: the crew's threads, which
    /// wait for work spinning a short while before they sleep, or thread-pool workers while another caller has the
    /// crew. The caller waits only for helpers that have started, so a helper that a busy machine delays costs
    /// nothing. Called from inside a chunk, it runs inline.
    /// </summary>
    /// <remarks>
    /// A model's kernels come back to back, tens of microseconds each at small shapes: a thread-pool worker woken per
    /// loop joins too late to share them. From the front and from the back, each thread keeps about the same rows from
    /// one kernel to the next, in its own cache.
    /// </remarks>
    public static void For(int chunks, Action<int> body)
    {
        if (chunks <= 1 || MaxThreads <= 1 || insideLoop)
        {
            for (int i = 0; i < chunks; i++)
                body(i);
            return;
        }
        var team = new Team(chunks, body);
        int helpers = Math.Min(MaxThreads, chunks) - 1;
        bool crewed = Crew.TryStart(team, helpers);
        if (!crewed)
            for (int helper = helpers; helper > 0; helper--)
                ThreadPool.UnsafeQueueUserWorkItem(team, preferLocal: false);
        try
        {
            team.Work(fromFront: true);
        }
        catch
        {
            team.Stop();
            throw;
        }
        finally
        {
            team.Close();
            if (crewed)
                Crew.Finish();
        }
    }

    /// <summary>Number of chunks of at most <paramref name="chunkSize"/> items that cover <paramref name="count"/>.</summary>
    public static int ChunkCount(long count, long chunkSize) => (int)((count + chunkSize - 1) / chunkSize);

    /// <summary>One parallel loop: the chunks taken from the front and from the back, and the helpers working on it.</summary>
    sealed class Team(int chunks, Action<int> body) : IThreadPoolWorkItem
    {
        const int Closed = -1;
        readonly object gate = new();
        // Chunks taken from the front in the low 32 bits, from the back in the high ones.
        long taken;
        int activeHelpers;
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
                Work(fromFront: false);
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

        public void Stop() => Interlocked.Exchange(ref taken, chunks);

        public void Work(bool fromFront)
        {
            bool outer = insideLoop;
            insideLoop = true;
            try
            {
                for (int chunk; (chunk = Claim(fromFront)) >= 0;)
                    body(chunk);
            }
            finally
            {
                insideLoop = outer;
            }
        }

        // The next chunk from the front (0, 1, ...) or the back (chunks - 1, ...), or -1 once every chunk is taken.
        int Claim(bool fromFront)
        {
            while (true)
            {
                long state = Volatile.Read(ref taken);
                int front = (int)(state & uint.MaxValue), back = (int)(state >> 32);
                if (front + back >= chunks)
                    return -1;
                long next = fromFront ? state + 1 : state + (1L << 32);
                if (Interlocked.CompareExchange(ref taken, next, state) == state)
                    return fromFront ? front : chunks - 1 - back;
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

    /// <summary>
    /// Helper threads kept for one caller at a time: each waits for the next team by spinning up to
    /// <see cref="SpinTicks"/> (a model's kernels come back to back), then sleeps until woken.
    /// </summary>
    static class Crew
    {
        static readonly long SpinTicks = System.Diagnostics.Stopwatch.Frequency / 5000;
        static Helper[] helpers = [];
        static int owned;
        static long generation;
        static Team? current;
        static int wanted;

        /// <summary>Hands <paramref name="team"/> to <paramref name="count"/> crew threads, unless another caller has the crew.</summary>
        public static bool TryStart(Team team, int count)
        {
            if (Interlocked.CompareExchange(ref owned, 1, 0) != 0)
                return false;
            if (helpers.Length < count)
                helpers = [.. helpers, .. Enumerable.Range(helpers.Length, count - helpers.Length).Select(index => new Helper(index))];
            Volatile.Write(ref current, team);
            Volatile.Write(ref wanted, count);
            Interlocked.Increment(ref generation);
            foreach (var helper in helpers.AsSpan(0, count))
                helper.Wake();
            return true;
        }

        /// <summary>Called once the team is closed: the crew is free for the next caller.</summary>
        public static void Finish() => Volatile.Write(ref owned, 0);

        sealed class Helper
        {
            readonly int index;
            readonly SemaphoreSlim wake = new(0);
            int sleeping;

            public Helper(int index)
            {
                this.index = index;
                new Thread(Loop) { IsBackground = true, Name = $"ActionKit CPU helper {index + 1}" }.Start();
            }

            public void Wake()
            {
                if (Interlocked.Exchange(ref sleeping, 0) == 1)
                    wake.Release();
            }

            void Loop()
            {
                long seen = 0;
                while (true)
                {
                    seen = WaitForNext(seen);
                    // A team that wants fewer helpers is skipped; one already closed returns at once.
                    if (index < Volatile.Read(ref wanted) && Volatile.Read(ref current) is { } team)
                        team.Execute();
                }
            }

            long WaitForNext(long seen)
            {
                long start = System.Diagnostics.Stopwatch.GetTimestamp();
                while (true)
                {
                    long next = Volatile.Read(ref generation);
                    if (next != seen)
                        return next;
                    if (System.Diagnostics.Stopwatch.GetTimestamp() - start < SpinTicks)
                    {
                        Thread.SpinWait(20);
                        continue;
                    }
                    // Sleep, unless a team came between the last look and saying so.
                    Interlocked.Exchange(ref sleeping, 1);
                    if (Volatile.Read(ref generation) == seen)
                        wake.Wait();
                    Interlocked.Exchange(ref sleeping, 0);
                    start = System.Diagnostics.Stopwatch.GetTimestamp();
                }
            }
        }
    }
}
