namespace ActionKit.Engine.Optimization;

/// <summary>The decay after warmup: step (×gamma at each milestone epoch) or cosine (to zero at the last iteration).</summary>
public enum ScheduleKind
{
    Step,
    Cosine,
}

/// <summary>
/// Learning rate per iteration, as mmcv's LR hooks compute it: linear warmup over the first
/// <see cref="WarmupEpochs"/> (lr·(1 - (1 - i/warmup)·(1 - ratio))), then a step or cosine decay of the base rate.
/// </summary>
public sealed record LearningRateSchedule(
    double BaseRate,
    ScheduleKind Kind,
    int TotalEpochs,
    int IterationsPerEpoch,
    double WarmupEpochs = 0,
    double WarmupRatio = 0.1,
    int[]? Milestones = null,
    double Gamma = 0.1)
{
    /// <summary>The rate for 0-based <paramref name="iteration"/> counted from the start of training.</summary>
    public double RateAt(long iteration)
    {
        if (IterationsPerEpoch <= 0 || TotalEpochs <= 0)
            throw new InvalidOperationException("A schedule needs positive epochs and iterations per epoch.");
        double regular = Kind switch
        {
            ScheduleKind.Step => BaseRate * Math.Pow(Gamma, (Milestones ?? []).Count(m => iteration >= (long)m * IterationsPerEpoch)),
            _ => BaseRate * 0.5 * (1 + Math.Cos(Math.PI * Math.Min(1.0, iteration / (double)(TotalEpochs * (long)IterationsPerEpoch)))),
        };
        double warmupIterations = WarmupEpochs * IterationsPerEpoch;
        if (iteration >= warmupIterations)
            return regular;
        return regular * (1 - (1 - iteration / warmupIterations) * (1 - WarmupRatio));
    }
}
