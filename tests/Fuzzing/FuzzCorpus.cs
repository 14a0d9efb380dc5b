using System.Diagnostics;
using System.Globalization;

namespace ActionKit.Fuzzing;

/// <summary>
/// Runs a reader over mutated copies of valid files. Every case must end in a parse or in the reader's own typed
/// error naming the file; never another exception, never past its time bound, never allocating far beyond the file's
/// size. Case i of a corpus draws its seed file, mutations and their places from <c>Random(seed, i)</c>, so a failure
/// message's seed and case replay it: <c>ACTIONKIT_FUZZ_SEED=S ACTIONKIT_FUZZ_CASE=I dotnet test --filter ...</c>.
/// <c>ACTIONKIT_FUZZ_SCALE=N</c> runs N times the CI's cases (<c>./build.sh --target=Fuzz</c>).
/// </summary>
internal sealed class FuzzCorpus<TError>(string reader, string fileName) where TError : Exception
{
    /// <summary>The valid files mutated.</summary>
    public required IReadOnlyList<byte[]> Seeds { get; init; }

    /// <summary>The mutation kinds drawn from; a case applies one, or two in a row one time in four.</summary>
    public required IReadOnlyList<Mutation> Mutations { get; init; }

    /// <summary>Reads the mutated file (its path, and a token cancelled at the time bound); its result is discarded.</summary>
    public required Action<string, CancellationToken> Read { get; init; }

    /// <summary>Writes the files the reader needs beside the mutated one (into the case's folder), once.</summary>
    public Action<string>? Setup { get; init; }

    /// <summary>The file the reader's error must name, when not the mutated file itself.</summary>
    public Func<string, string>? NamedFile { get; init; }

    /// <summary>The most one case may take; a case past it is a hang.</summary>
    public TimeSpan TimeBound { get; init; } = TimeSpan.FromSeconds(20);

    /// <summary>The most a case may allocate on its thread, given the mutated file's size.</summary>
    public Func<long, long> Allowance { get; init; } = size => (32L << 20) + 64 * size;

    public static int Scale => Variable("ACTIONKIT_FUZZ_SCALE") is int scale and > 0 ? scale : 1;

    /// <summary>Runs <paramref name="ciCases"/> x <see cref="Scale"/> cases and fails listing the first failures.</summary>
    public void Run(int ciCases)
    {
        int seed = Variable("ACTIONKIT_FUZZ_SEED") ?? StableSeed(reader);
        int[] cases = Variable("ACTIONKIT_FUZZ_CASE") is int only ? [only] : [.. Enumerable.Range(0, ciCases * Scale)];
        string folder = Path.Combine(Path.GetTempPath(), $"actionkit-fuzz-{Guid.NewGuid():N}");
        Directory.CreateDirectory(folder);
        try
        {
            Setup?.Invoke(folder);
            string path = Path.Combine(folder, fileName);
            var failures = new List<string>();
            foreach (int index in cases)
            {
                if (RunCase(path, seed, index) is { } failure)
                {
                    failures.Add(failure);
                }
            }
            Assert.True(failures.Count == 0,
                $"{reader}: {failures.Count} of {cases.Length} cases failed (seed {seed}); the first:\n"
                + string.Join("\n", failures.Take(5)));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    private string? RunCase(string path, int seed, int index)
    {
        var random = new Random(unchecked((seed * 1_000_003) + index));
        byte[] bytes = Seeds[random.Next(Seeds.Count)];
        var applied = new List<string>();
        for (int step = 0; step < (random.Next(4) == 0 ? 2 : 1); step++)
        {
            Mutation mutation = Mutations[random.Next(Mutations.Count)];
            bytes = mutation.Apply(bytes, random);
            applied.Add(mutation.Kind);
        }
        File.WriteAllBytes(path, bytes);
        string where = $"case {index} (ACTIONKIT_FUZZ_SEED={seed} ACTIONKIT_FUZZ_CASE={index}; {string.Join(" then ", applied)}, {bytes.Length} bytes)";

        using var bound = new CancellationTokenSource(TimeBound);
        Exception? error = null;
        long allocated = 0;
        var clock = Stopwatch.StartNew();
        var run = Task.Factory.StartNew(() =>
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            try
            {
                Read(path, bound.Token);
            }
            catch (Exception thrown)
            {
                error = thrown;
            }
            allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        if (!run.Wait(TimeBound + TimeSpan.FromSeconds(5)) || error is OperationCanceledException)
        {
            return $"{where}: still running after {clock.Elapsed.TotalSeconds:F0} s";
        }
        string named = NamedFile?.Invoke(path) ?? path;
        if (error is not null && (error is not TError || !error.Message.Contains(named, StringComparison.Ordinal)))
        {
            return $"{where}: {error.GetType().Name} instead of a {typeof(TError).Name} naming {named}: {error.Message}\n{error.StackTrace}";
        }
        long allowance = Allowance(bytes.Length);
        return allocated > allowance
            ? $"{where}: allocated {allocated >> 20} MiB, more than the {allowance >> 20} MiB allowed for its size"
            : null;
    }

    private static int? Variable(string name) =>
        int.TryParse(Environment.GetEnvironmentVariable(name), NumberStyles.Integer, CultureInfo.InvariantCulture, out int value) ? value : null;

    // The same seed on every machine and run (string.GetHashCode is randomized per process).
    private static int StableSeed(string name) => name.Aggregate(17, (hash, c) => unchecked((hash * 31) + c));
}
