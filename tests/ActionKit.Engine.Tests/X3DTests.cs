using ActionKit.Engine.Models;
using static ActionKit.Engine.Tests.GradientCheck;

namespace ActionKit.Engine.Tests;

public sealed class X3DTests
{
    internal static X3DConfig Tiny(int classes = 3) => new(classes, StemWidth: 4, Widths: [4, 8], Depths: [2, 2],
        HeadWidth: 12, HeadHidden: 16, Dropout: 0.5f);

    [Fact]
    public void ParameterCountOfX3DXsWith400ClassesIs3Point8Million()
    {
        using var backend = new CpuBackend();
        using var model = new X3D(X3DConfig.XS(400), backend, seed: 1);
        long count = model.Parameters.TrainableCount;
        Assert.InRange(count, 3_750_000, 3_849_999);
    }

    [Fact]
    public void ParameterNamesFollowThePyTorchStateDict()
    {
        using var backend = new CpuBackend();
        using var model = new X3D(X3DConfig.XS(51), backend, seed: 1);
        var names = model.Parameters.Parameters.Select(p => p.Name).ToHashSet();
        string[] expected = ["stem.0.weight", "stem.1.weight", "stem.2.running_var", "blocks.0.a.0.weight", "blocks.0.a.1.bias",
            "blocks.0.b.weight", "blocks.0.b_bn.weight", "blocks.0.se.fc1.weight", "blocks.0.se.fc2.bias", "blocks.0.c.0.weight",
            "blocks.0.c.1.weight", "blocks.0.short.0.weight", "blocks.0.short.1.running_mean", "blocks.25.c.1.bias",
            "conv5.0.weight", "conv5.1.weight", "fc1.weight", "fc2.weight", "fc2.bias"];
        Assert.All(expected, name => Assert.Contains(name, names));
        Assert.DoesNotContain("blocks.1.se.fc1.weight", names);
        Assert.DoesNotContain("blocks.1.short.0.weight", names);
        Assert.Equal([32, 432, 1, 1, 1], model.Parameters["blocks.19.se.fc1.weight"].Shape);
        Assert.Equal([8, 54, 1, 1, 1], model.Parameters["blocks.0.se.fc1.weight"].Shape);
        Assert.Contains(model.Parameters.Counters, c => c.Name == "blocks.3.b_bn.num_batches_tracked");
    }

    [Fact]
    public void WholeNetworkGradientsMatchFiniteDifferences()
    {
        using var backend = new CpuBackend();
        using var model = new X3D(Tiny(), backend, seed: 3);
        ConditionForGradientCheck(model.Parameters, 5);
        using var clips = RandomTensor(backend, 11, 2, 4, 16, 16, 3);
        ulong dropoutState = model.DropoutRandom.State;
        Tensor Forward(Tensor x)
        {
            model.DropoutRandom.State = dropoutState;
            return model.Forward(x, training: true);
        }
        // Each layer is checked to 1e-3 on its own. Through a stack of ReLU-gated blocks some pre-activation always lies within
        // a step of its kink, so the whole network gets 5e-2: a wrong or missing term still shows as an error near 1.
        CheckLayer("x3d", model.Parameters, clips, Forward, dy =>
        {
            model.Backward(dy);
            return null;
        }, step: 1e-3, tolerance: 5e-2, noiseFloor: 1e-3, maxProbes: 6);
    }

    [Theory]
    [InlineData(6, 10, 2, 8)]   // strided block with a projection shortcut and squeeze-excitation
    [InlineData(10, 10, 1, 0)]  // identity shortcut, no squeeze-excitation
    public void BottleneckBlockGradientsMatchFiniteDifferences(int inChannels, int outChannels, int stride, int squeeze)
    {
        using var backend = new CpuBackend();
        using var store = new ParameterStore();
        var block = new X3DBlock(store, backend, "blocks.0", inChannels, 13, outChannels, stride, squeeze, Tiny());
        store.Allocate(backend, 4);
        ConditionForGradientCheck(store, 6);
        using var x = RandomTensor(backend, 8, 2, 3, 5, 5, inChannels);
        CheckLayer("block", store, x, v => block.Forward(v, training: true), block.Backward, step: 1e-3, tolerance: 1e-2);
    }

    /// <summary>
    /// BN γ in [0.5, 1.5], small random β and biases, and fully connected weights of std 1/sqrt(fan-in): the
    /// zero-initialised last BN of each block and the head's std-0.01 init would otherwise shrink early gradients
    /// below float32 finite-difference noise, and γ near zero would make a channel ill-conditioned.
    /// </summary>
    internal static void ConditionForGradientCheck(ParameterStore store, ulong seed)
    {
        var random = new DeterministicRandom(seed);
        foreach (var p in store.Trainable.Where(p => p.Shape.Length <= 2))
        {
            bool isScale = p.Shape.Length == 1 && p.Name.EndsWith(".weight", StringComparison.Ordinal);
            double std = p.Shape.Length == 2 ? 1 / Math.Sqrt(p.Shape[1]) : 0.1;
            p.Value.CopyFrom(Enumerable.Range(0, (int)p.Length)
                .Select(_ => isScale ? (float)(0.5 + random.NextDouble()) : (float)(std * random.NextGaussian())).ToArray());
        }
    }
}
