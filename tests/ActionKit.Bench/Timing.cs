using System.Diagnostics;

namespace ActionKit.Bench;

/// <summary>Wall-clock timing that warms up first and reports the median of repeated runs (robust to a noisy machine).</summary>
public static class Timing
{
    /// <summary>Median seconds per call of <paramref name="action"/>, after <paramref name="warmup"/> calls, over at least <paramref name="minRuns"/> runs and <paramref name="minSeconds"/>.</summary>
    public static double MedianSeconds(Action action, int warmup = 2, int minRuns = 5, double minSeconds = 1.0)
    {
        for (int i = 0; i < warmup; i++)
            action();
        var samples = new List<double>();
        var total = Stopwatch.StartNew();
        while (samples.Count < minRuns || total.Elapsed.TotalSeconds < minSeconds)
        {
            long start = Stopwatch.GetTimestamp();
            action();
            samples.Add(Stopwatch.GetElapsedTime(start).TotalSeconds);
        }
        samples.Sort();
        return samples[samples.Count / 2];
    }
}
