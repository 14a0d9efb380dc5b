using ActionKit.Engine.Layers;
using ActionKit.Engine.Models;
using ActionKit.Engine.Optimization;
using ActionKit.Kernels;
using static ActionKit.Engine.Tests.GradientCheck;

namespace ActionKit.Engine.Tests;

public sealed class TrainingTests
{
    static float[] Train(X3DConfig config, int steps, ulong seed, Action<int, double>? onLoss = null)
    {
        using var backend = new CpuBackend();
        using var model = new X3D(config, backend, seed);
        using var optimizer = new AdamW(model.Parameters, weightDecay: 1e-4f);
        using var clips = RandomTensor(backend, seed + 1, 4, 4, 16, 16, 3);
        using var loss = new SoftmaxCrossEntropy(backend);
        using var clipping = new GradientClipping(model.Parameters, 40);
        using var labels = Labels(backend, 0, 1, 2, 1);
        for (int step = 0; step < steps; step++)
        {
            var value = loss.Forward(model.Forward(clips, training: true), labels);
            onLoss?.Invoke(step, Scalar(value));
            model.Parameters.ZeroGradients();
            model.Backward(loss.Backward());
            clipping.Clip();
            optimizer.Step(0.03f);
        }
        return model.Parameters.TrainableValues.ToArray();
    }

    [Fact]
    public void OverfitsFourClipsInFiftySteps()
    {
        var losses = new List<double>();
        Train(X3DTests.Tiny() with { Dropout = 0 }, 50, seed: 5, (_, loss) => losses.Add(loss));
        Assert.True(losses[0] > 0.8, $"initial loss {losses[0]:F3} should be near ln 3");
        Assert.True(losses[^1] < 0.05, $"loss after 50 steps is {losses[^1]:F4}: [{string.Join(", ", losses.Where((_, i) => i % 10 == 0).Select(l => l.ToString("F3")))}]");
    }

    [Fact]
    public void SameSeedGivesByteIdenticalWeights()
    {
        var first = Train(X3DTests.Tiny(), 5, seed: 9);
        var second = Train(X3DTests.Tiny(), 5, seed: 9);
        Assert.Equal(first, second);
        Assert.NotEqual(first, Train(X3DTests.Tiny(), 5, seed: 10));
    }

    [Fact]
    public void EvaluationModeUsesRunningStatisticsAndIgnoresTheBatch()
    {
        using var backend = new CpuBackend();
        using var model = new X3D(X3DTests.Tiny(), backend, seed: 2);
        using var clips = RandomTensor(backend, 3, 3, 4, 16, 16, 3);
        model.Forward(clips, training: true);
        var together = model.Forward(clips, training: false).ToArray();
        using var single = backend.Allocate(1, 4, 16, 16, 3);
        single.CopyFrom(clips.ToArray().AsSpan(0, (int)single.Length));
        var alone = model.Forward(single, training: false).ToArray();
        for (int k = 0; k < alone.Length; k++)
            Assert.Equal(together[k], alone[k], 5);
        var trainingMode = model.Forward(single, training: true).ToArray();
        Assert.NotEqual(alone, trainingMode);
    }

    [Fact]
    public void BatchNormEvaluationIsTheRunningStatisticsFormula()
    {
        using var backend = new CpuBackend();
        using var store = new ParameterStore();
        var norm = new BatchNorm3d(store, backend, "bn", 3, 1e-5f, 0.1f, Activation.None);
        store.Allocate(backend, 0);
        norm.Weight.Value.CopyFrom([1.5f, -2f, 0.5f]);
        norm.Bias.Value.CopyFrom([0.1f, 0.2f, -0.3f]);
        norm.RunningMean.Value.CopyFrom([0.5f, -1f, 2f]);
        norm.RunningVar.Value.CopyFrom([4f, 0.25f, 1f]);
        using var x = RandomTensor(backend, 4, 2, 1, 2, 2, 3);
        var input = x.ToArray();
        var y = norm.Forward(x, training: false).ToArray();
        float[] gamma = [1.5f, -2f, 0.5f], beta = [0.1f, 0.2f, -0.3f], mean = [0.5f, -1f, 2f], variance = [4f, 0.25f, 1f];
        for (int i = 0; i < y.Length; i++)
        {
            int c = i % 3;
            Assert.Equal(gamma[c] * (input[i] - mean[c]) / MathF.Sqrt(variance[c] + 1e-5f) + beta[c], y[i], 5);
        }
    }

    [Fact]
    public void BatchNormTrainingUpdatesRunningStatisticsLikePyTorch()
    {
        using var backend = new CpuBackend();
        using var store = new ParameterStore();
        var norm = new BatchNorm3d(store, backend, "bn", 1, 1e-5f, 0.1f, Activation.None);
        store.Allocate(backend, 0);
        using var x = backend.Allocate(4, 1, 1, 1, 1);
        x.CopyFrom([1f, 2f, 3f, 6f]);
        norm.Forward(x, training: true);
        // mean 3, unbiased variance 14/3: running = 0.9·(0, 1) + 0.1·(3, 14/3)
        Assert.Equal(0.3f, norm.RunningMean.Value.ToArray()[0], 6);
        Assert.Equal(0.9f + 14f / 30f, norm.RunningVar.Value.ToArray()[0], 6);
        Assert.Equal(1, norm.BatchesTracked.Value);
    }
}
