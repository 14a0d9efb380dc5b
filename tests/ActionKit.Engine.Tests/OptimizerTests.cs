using ActionKit.Engine.Optimization;

namespace ActionKit.Engine.Tests;

public sealed class OptimizerTests
{
    static (ParameterStore Store, CpuBackend Backend) OneParameter(float value, float gradient)
    {
        var backend = new CpuBackend();
        var store = new ParameterStore();
        store.Add("w", [1], new Initializer.Constant(value));
        store.Allocate(backend, 0);
        store.Gradients.CopyFrom([gradient]);
        return (store, backend);
    }

    [Fact]
    public void AdamWFollowsTheTorchFormula()
    {
        var (store, _) = OneParameter(1f, 0.5f);
        using var optimizer = new AdamW(store, weightDecay: 0.1f);
        double p = 1, m = 0, v = 0;
        for (int t = 1; t <= 3; t++)
        {
            optimizer.Step(0.01f);
            const double g = 0.5, lr = 0.01;
            p *= 1 - lr * 0.1;
            m = 0.9 * m + 0.1 * g;
            v = 0.999 * v + 0.001 * g * g;
            p -= lr * (m / (1 - Math.Pow(0.9, t))) / (Math.Sqrt(v / (1 - Math.Pow(0.999, t))) + 1e-8);
            Assert.Equal(p, store.TrainableValues.ToArray()[0], 5);
        }
        Assert.Equal(3, optimizer.StepCount);
        store.Dispose();
    }

    [Fact]
    public void SgdFollowsTheTorchFormula()
    {
        var (store, _) = OneParameter(2f, 1f);
        using var optimizer = new Sgd(store, momentum: 0.9f, weightDecay: 0.01f);
        double p = 2, buffer = 0;
        for (int t = 0; t < 3; t++)
        {
            optimizer.Step(0.1f);
            double g = 1 + 0.01 * p;
            buffer = 0.9 * buffer + g;
            p -= 0.1 * buffer;
            Assert.Equal(p, store.TrainableValues.ToArray()[0], 5);
        }
        store.Dispose();
    }

    [Fact]
    public void ClippingScalesTheGlobalNormDownToTheLimit()
    {
        using var backend = new CpuBackend();
        using var store = new ParameterStore();
        store.Add("a", [2], new Initializer.Constant(0));
        store.Add("b", [1], new Initializer.Constant(0));
        store.Allocate(backend, 0);
        store.Gradients.CopyFrom([3f, 4f, 12f]);
        using var clipping = new GradientClipping(store, 1.3f);
        clipping.Clip();
        Assert.Equal(169, GradientCheck.Scalar(clipping.SumOfSquares), 3);
        var clipped = store.Gradients.ToArray();
        Assert.Equal(0.3, clipped[0], 4);
        Assert.Equal(1.2, clipped[2], 4);
        using var loose = new GradientClipping(store, 100);
        loose.Clip();
        Assert.Equal(1.69, GradientCheck.Scalar(loose.SumOfSquares), 4);
        Assert.Equal(clipped, store.Gradients.ToArray());
    }

    [Fact]
    public void StepScheduleWarmsUpLinearlyThenDecaysAtMilestones()
    {
        var schedule = new LearningRateSchedule(1.0, ScheduleKind.Step, TotalEpochs: 10, IterationsPerEpoch: 10,
            WarmupEpochs: 2, WarmupRatio: 0.1, Milestones: [5, 8], Gamma: 0.1);
        Assert.Equal(0.1, schedule.RateAt(0), 9);
        Assert.Equal(0.55, schedule.RateAt(10), 9);
        Assert.Equal(1.0, schedule.RateAt(20), 9);
        Assert.Equal(1.0, schedule.RateAt(49), 9);
        Assert.Equal(0.1, schedule.RateAt(50), 9);
        Assert.Equal(0.01, schedule.RateAt(80), 9);
    }

    [Fact]
    public void CosineScheduleReachesZeroAtTheEnd()
    {
        var schedule = new LearningRateSchedule(2.0, ScheduleKind.Cosine, TotalEpochs: 4, IterationsPerEpoch: 5);
        Assert.Equal(2.0, schedule.RateAt(0), 9);
        Assert.Equal(1.0, schedule.RateAt(10), 9);
        Assert.Equal(0.0, schedule.RateAt(20), 9);
    }
}
