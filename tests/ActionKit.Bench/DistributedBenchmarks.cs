using System.Diagnostics;
using System.Globalization;
using ActionKit.Engine;
using ActionKit.Engine.Models;
using ActionKit.Kernels.Cpu;
using ActionKit.Pipeline.Distributed;

namespace ActionKit.Bench;

/// <summary>
/// Data-parallel training of X3D-CPU (X3D-XS, 8x56x56, 8 classes), global batch 8: <c>mpiexec.mpich -np 2</c> with
/// one compute thread per rank (batch 4 each, gradients averaged every step) against one process with two threads.
/// On one 2-core machine this measures the overhead, not a speed-up: the figure that matters is the time per step spent
/// in the gradient exchange and its share of the step.
/// </summary>
public static class DistributedBenchmarks
{
    /// <summary>The argument that makes the benchmark program one rank of the MPI run.</summary>
    public const string RankArgument = "--mpi-rank";

    const int Batch = 8, Frames = 8, Size = 56, Steps = 12;

    public static IEnumerable<BenchmarkRow> Run()
    {
        double oneProcess = OneProcess();
        var start = new ProcessStartInfo("mpiexec.mpich", ["-np", "2", "dotnet", typeof(DistributedBenchmarks).Assembly.Location, RankArgument])
        {
            RedirectStandardOutput = true,
        };
        using var ranks = Process.Start(start) ?? throw new InvalidOperationException("mpiexec.mpich did not start (apt-get install mpich)");
        string output = ranks.StandardOutput.ReadToEnd();
        ranks.WaitForExit();
        var figures = output.Split('\n').Single(line => line.StartsWith("step ", StringComparison.Ordinal)).Split(' ')[1..]
            .Select(value => double.Parse(value, CultureInfo.InvariantCulture)).ToArray();
        double stepSeconds = figures[0], exchangeSeconds = figures[1];
        yield return new BenchmarkRow("mpi", $"X3D-CPU train, global batch {Batch}, 2 ranks x 1 thread", Batch / stepSeconds, "clips/s",
            "1 process x 2 threads", oneProcess);
        yield return new BenchmarkRow("mpi", "gradient exchange (2.99 M floats, Allgather + sum in the batch tree) per step", exchangeSeconds * 1000, "ms");
        yield return new BenchmarkRow("mpi", "gradient exchange share of the step", 100 * exchangeSeconds / stepSeconds, "%");
    }

    static X3DConfig Config => new() { NumClasses = 8 };

    static double OneProcess()
    {
        using var backend = new CpuBackend();
        using var step = new TrainingStep(backend, Config, Batch, Frames, Size);
        return Batch / Timing.MedianSeconds(step.Run, warmup: 2, minRuns: Steps, minSeconds: 3);
    }

    static double Median(List<double> values) => values.Order().ElementAt(values.Count / 2);

    /// <summary>One rank: batch 4 on one thread; rank 0 prints "step SECONDS EXCHANGE_SECONDS", medians after two warm-up steps.</summary>
    public static int RunRank()
    {
        var world = MpiCommunicator.FromEnvironment();
        try
        {
            CpuParallel.MaxThreads = 1;
            var ranks = new DataParallel(world);
            var exchanges = new List<double>();
            using var backend = new CpuBackend();
            using var step = new TrainingStep(backend, Config, Batch / world.Size, Frames, Size, parameters =>
            {
                var before = ranks.CommunicationTime;
                ranks.AverageGradients(parameters);
                exchanges.Add((ranks.CommunicationTime - before).TotalSeconds);
            });
            // Every rank takes the same number of steps (each one waits for the others in the exchange).
            var seconds = new List<double>();
            for (int i = 0; i < Steps + 2; i++)
            {
                long start = Stopwatch.GetTimestamp();
                step.Run();
                seconds.Add(Stopwatch.GetElapsedTime(start).TotalSeconds);
            }
            if (world.Rank == 0)
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"step {Median(seconds[2..])} {Median(exchanges[2..])}"));
            return 0;
        }
        finally
        {
            (world as IDisposable)?.Dispose();
        }
    }
}
