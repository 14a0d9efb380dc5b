using System.Diagnostics;

namespace ActionKit.Engine;

/// <summary>
/// Wall-clock time per layer type and phase (forward, backward), each counted once: a layer's own time excludes the
/// layers it calls. The backend is synchronized at each boundary so queued device work lands in the layer that
/// queued it. Attach it to a model with <see cref="Layers.Layer.Profiler"/>; not thread-safe.
/// </summary>
public sealed class Profiler(IBackend backend)
{
    readonly Dictionary<(string Name, string Phase), (double Seconds, long Calls)> totals = [];
    readonly Stack<Frame> open = new();

    /// <summary>Seconds and calls per "name phase" since the last <see cref="Reset"/>, largest first.</summary>
    public IReadOnlyList<(string Operation, double Seconds, long Calls)> Totals =>
        totals.Select(kv => ($"{kv.Key.Name} {kv.Key.Phase}", kv.Value.Seconds, kv.Value.Calls)).OrderByDescending(t => t.Seconds).ToList();

    public void Reset() => totals.Clear();

    /// <summary>Times what runs until the returned scope is disposed, under <paramref name="name"/> and <paramref name="phase"/>.</summary>
    public Scope Measure(string name, string phase)
    {
        backend.Synchronize();
        open.Push(new Frame(name, phase, Stopwatch.GetTimestamp()));
        return new Scope(this);
    }

    void End()
    {
        backend.Synchronize();
        var frame = open.Pop();
        double seconds = Stopwatch.GetElapsedTime(frame.Start).TotalSeconds;
        var (total, calls) = totals.GetValueOrDefault((frame.Name, frame.Phase));
        totals[(frame.Name, frame.Phase)] = (total + seconds - frame.Nested, calls + 1);
        if (open.TryPeek(out var parent))
            parent.Nested += seconds;
    }

    sealed class Frame(string name, string phase, long start)
    {
        public string Name { get; } = name;
        public string Phase { get; } = phase;
        public long Start { get; } = start;
        public double Nested { get; set; }
    }

    /// <summary>An open measurement; the default scope (no profiler) does nothing.</summary>
    public readonly struct Scope(Profiler? profiler) : IDisposable
    {
        public void Dispose() => profiler?.End();
    }
}
