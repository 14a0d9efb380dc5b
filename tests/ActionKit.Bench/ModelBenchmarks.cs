using ActionKit.Engine;
using ActionKit.Engine.Models;
using ActionKit.Kernels.Cpu;

namespace ActionKit.Bench;

/// <summary>
/// Whole-network X3D throughput on a backend: training steps and inference, in clips per second, with the load
/// average the machine had (other processes share its cores) and, on the CPU, a one-thread training figure that load
/// skews less.
/// </summary>
public static class ModelBenchmarks
{
    /// <summary>
    /// X3D-XS training steps (batch <paramref name="batch"/>) and inference (batch 1 and <paramref name="batch"/>) on
    /// <paramref name="backend"/> at each (frames, size) of <paramref name="shapes"/>. With <paramref name="profile"/>,
    /// the milliseconds per training step each layer type (forward, backward), the clipping and the optimizer took,
    /// and per inference run each layer type's forward.
    /// </summary>
    public static IEnumerable<BenchmarkRow> Run(IBackend backend, (int Frames, int Size)[] shapes, int batch, int classes = 51, bool profile = false)
    {
        yield return new BenchmarkRow("machine", "load average over 1 minute, before x3d", LoadAverage(), "runnable");
        var profiler = profile ? new Profiler(backend) : null;
        foreach (var (frames, size) in shapes)
        {
            using var training = new TrainingStep(backend, new X3DConfig { NumClasses = classes }, batch, frames, size);
            string shape = $"X3D-XS {frames}x{size}x{size}";
            int steps = 0;
            void Step()
            {
                training.Run();
                backend.Synchronize();
                steps++;
            }

            Step();
            training.Profiler = profiler;
            profiler?.Reset();
            steps = 0;
            double train = Timing.MedianSeconds(Step, warmup: 0, minRuns: 3, minSeconds: 4);
            yield return new BenchmarkRow("x3d", $"{shape} train step, batch {batch}", batch / train, "clips/s");
            training.Profiler = null;
            if (profiler is not null)
            {
                foreach (var (operation, seconds, calls) in profiler.Totals)
                    yield return new BenchmarkRow("profile", $"{shape} train: {operation} ({calls / steps} calls)", seconds * 1000 / steps, "ms/step");
            }
            if (backend is CpuBackend)
                yield return new BenchmarkRow("x3d", $"{shape} train step, batch {batch}, 1 thread", batch / OneThread(Step), "clips/s");

            foreach (int inferenceBatch in new[] { 1, batch })
            {
                using var view = training.Clips.View(0, inferenceBatch, frames, size, size, 3);
                double infer = Timing.MedianSeconds(() =>
                {
                    training.Model.Forward(view, training: false);
                    backend.Synchronize();
                }, warmup: 1, minRuns: 3, minSeconds: 2);
                yield return new BenchmarkRow("x3d", $"{shape} inference, batch {inferenceBatch}", inferenceBatch / infer, "clips/s");
                if (profiler is null)
                    continue;
                const int runs = 3;
                profiler.Reset();
                training.Model.Profiler = profiler;
                for (int run = 0; run < runs; run++)
                    training.Model.Forward(view, training: false);
                training.Model.Profiler = null;
                foreach (var (operation, seconds, calls) in profiler.Totals)
                    yield return new BenchmarkRow("profile", $"{shape} inference, batch {inferenceBatch}: {operation} ({calls / runs} calls)", seconds * 1000 / runs, "ms/run");
            }
        }
    }

    static double OneThread(Action step)
    {
        int threads = CpuParallel.MaxThreads;
        CpuParallel.MaxThreads = 1;
        try
        {
            return Timing.MedianSeconds(step, warmup: 0, minRuns: 3, minSeconds: 4);
        }
        finally
        {
            CpuParallel.MaxThreads = threads;
        }
    }

    // Runnable processes averaged over the last minute (Linux); NaN where the system does not say.
    static double LoadAverage()
    {
        const string file = "/proc/loadavg";
        return File.Exists(file) && double.TryParse(File.ReadAllText(file).Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture, out double load)
            ? load
            : double.NaN;
    }
}
