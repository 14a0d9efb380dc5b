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

    /// <summary>
    /// Median seconds per call of each of <paramref name="actions"/>, timed in rounds that call each once in turn (after
    /// <paramref name="warmup"/> such rounds), at least <paramref name="minRounds"/> of them and <paramref name="minSeconds"/>
    /// in all: a machine whose speed drifts during the run slows every peer alike, so their ratios hold.
    /// </summary>
    public static double[] InterleavedMedianSeconds(IReadOnlyList<Action> actions, int warmup = 2, int minRounds = 5, double minSeconds = 1.0)
    {
        for (int i = 0; i < warmup; i++)
            foreach (var action in actions)
                action();
        var samples = actions.Select(_ => new List<double>()).ToArray();
        var total = Stopwatch.StartNew();
        while (samples[0].Count < minRounds || total.Elapsed.TotalSeconds < minSeconds)
            for (int a = 0; a < actions.Count; a++)
            {
                long start = Stopwatch.GetTimestamp();
                actions[a]();
                samples[a].Add(Stopwatch.GetElapsedTime(start).TotalSeconds);
            }
        return [.. samples.Select(list => list.Order().ElementAt(list.Count / 2))];
    }
}
