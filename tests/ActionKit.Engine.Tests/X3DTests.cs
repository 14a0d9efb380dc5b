using ActionKit.Engine.Models;
using static ActionKit.Engine.Tests.GradientCheck;

namespace ActionKit.Engine.Tests;

public sealed class X3DTests
{
    internal static X3DConfig Tiny(int classes = 3) => new()
    {
        NumClasses = classes,
        StemWidth = 4,
        Widths = [4, 8],
        Depths = [2, 2],
        HeadWidth = 12,
        HeadHidden = 16,
    };

    [Fact]
    public void ParameterCountOfX3DXsWith400ClassesIs3Point8Million()
    {
        using var backend = new CpuBackend();
        using var model = new X3D(new X3DConfig { NumClasses = 400 }, backend, seed: 1);
        long count = model.Parameters.TrainableCount;
        Assert.InRange(count, 3_750_000, 3_849_999);
    }

    [Fact]
    public void ParameterNamesFollowThePyTorchStateDict()
    {
        using var backend = new CpuBackend();
        using var model = new X3D(new X3DConfig { NumClasses = 51 }, backend, seed: 1);
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

    /// <summary>
    /// A clip's logits in evaluation mode do not depend on the batch it is in or where in it: 7 clips at once give, bit
    /// for bit, what 4 and then 3 of them give (no kernel rounds the end of a tensor differently, which data-parallel
    /// ranks, each holding a part of the batch, rely on).
    /// </summary>
    [Fact]
    public void A_clips_logits_are_the_same_bits_in_any_batch()
    {
        using var backend = new CpuBackend();
        var config = Tiny(classes: 5) with { SeRatio = 0.25 };
        using var model = new X3D(config, backend, seed: 3);
        ConditionForGradientCheck(model.Parameters, 5);
        using var clips = RandomTensor(backend, 12, 7, 4, 16, 16, 3);
        for (int step = 0; step < 2; step++)
            model.Forward(clips, training: true); // running statistics away from their initial 0 and 1
        var whole = model.Forward(clips, training: false).ToArray();
        var values = clips.ToArray();
        int clipLength = values.Length / 7;
        float[] Logits(int first, int count)
        {
            using var part = backend.Allocate(count, 4, 16, 16, 3);
            part.CopyFrom(values.AsSpan(first * clipLength, count * clipLength));
            return model.Forward(part, training: false).ToArray();
        }
        float[] parts = [.. Logits(0, 4), .. Logits(4, 3)];
        Assert.Equal(whole, parts);
    }

    [Fact]
    public void WholeNetworkMatchesTheDoublePrecisionReference()
    {
        using var backend = new CpuBackend();
        var config = Tiny();
        using var model = new X3D(config, backend, seed: 3);
        ConditionForGradientCheck(model.Parameters, 5);
        using var clips = RandomTensor(backend, 11, 2, 4, 16, 16, 3);
        ulong dropoutSeed = new DeterministicRandom(model.DropoutRandom.State).NextUInt64();
        var logits = model.Forward(clips, training: true).ToArray();

        var parameters = model.Parameters.Trainable.ToDictionary(p => p.Name, p => p.Value.ToArray().Select(v => (double)v).ToArray());
        var input = new Nd(clips.ToArray().Select(v => (double)v).ToArray(), clips.Shape);
        var expected = ReferenceX3D.Logits(config, name => parameters[name], input, dropoutSeed);
        for (int i = 0; i < logits.Length; i++)
            Assert.True(Math.Abs(logits[i] - expected[i]) < 1e-4 * (1 + Math.Abs(expected[i])), $"logit {i}: engine {logits[i]}, reference {expected[i]}");

        var weights = RandomValues(logits.Length, 99);
        using var dLogits = backend.Allocate(2, config.NumClasses);
        dLogits.CopyFrom(weights);
        model.Parameters.ZeroGradients();
        model.Backward(dLogits);
        double Loss() => ReferenceX3D.Logits(config, name => parameters[name], input, dropoutSeed).Select((v, i) => v * weights[i]).Sum();
        var random = new DeterministicRandom(23);
        foreach (var p in model.Parameters.Trainable)
        {
            var analytic = p.Gradient.ToArray();
            var values = parameters[p.Name];
            double diffSquares = 0, normSquares = 0;
            for (int probe = 0; probe < Math.Min(values.Length, 6); probe++)
            {
                int i = random.NextInt(values.Length);
                const double step = 1e-6;
                double original = values[i];
                values[i] = original + step;
                double plus = Loss();
                values[i] = original - step;
                double minus = Loss();
                values[i] = original;
                double numeric = (plus - minus) / (2 * step);
                diffSquares += Math.Pow(analytic[i] - numeric, 2);
                normSquares += numeric * numeric;
            }
            double relative = Math.Sqrt(diffSquares) / Math.Max(Math.Sqrt(normSquares), 1e-6);
            Assert.True(relative < 1e-3, $"d{p.Name}: relative error {relative:E2} against double-precision finite differences");
        }
    }

    [Fact]
    public void LayerGradientsOfALogitInEvaluationModeMatchFiniteDifferences()
    {
        using var backend = new CpuBackend();
        var config = Tiny();
        using var model = new X3D(config, backend, seed: 3);
        ConditionForGradientCheck(model.Parameters, 5);
        using var clips = RandomTensor(backend, 11, 2, 4, 16, 16, 3);
        for (int step = 0; step < 3; step++)
            model.Forward(clips, training: true); // running statistics away from their initial 0 and 1
        const int target = 1;
        double Logit() => model.Forward(clips, training: false).ToArray()[target];
        using var dLogits = backend.Allocate(2, config.NumClasses);
        dLogits.CopyFrom([.. Enumerable.Range(0, 2 * config.NumClasses).Select(i => i == target ? 1f : 0f)]);
        Assert.Equal(["input", "conv1", "res2", "res3", "conv5"], model.LayerNames);

        Logit();
        var inputGradient = model.BackwardTo(dLogits, X3D.InputName).ToArray();
        Check("d logit / d clips", clips, inputGradient, Logit, step: 1e-2, tolerance: 5e-3, noiseFloor: 1e-4);

        // A layer's output cannot be perturbed on its own, so each layer's gradient g is checked along the change its
        // output makes when the clips move along a random direction v: d logit / dt = Σ g · dA/dt, both sides central differences.
        var clipValues = clips.ToArray();
        foreach (string layer in model.LayerNames.Skip(1))
        {
            Logit();
            var gradient = model.BackwardTo(dLogits, layer).ToArray();
            for (ulong direction = 0; direction < 3; direction++)
            {
                var v = RandomValues(clipValues.Length, 40 + direction);
                const float h = 1e-2f;
                var (logitPlus, outputPlus) = At(h);
                var (logitMinus, outputMinus) = At(-h);
                double numeric = (logitPlus - logitMinus) / (2 * h), chained = 0;
                for (int i = 0; i < gradient.Length; i++)
                    chained += gradient[i] * (outputPlus[i] - (double)outputMinus[i]) / (2 * h);
                Assert.True(Math.Abs(numeric - chained) < 2e-3 * Math.Max(1, Math.Abs(numeric)),
                    $"{layer}, direction {direction}: d logit/dt {numeric:G6} by differences, {chained:G6} through the layer's gradient");

                (double Logit, float[] Output) At(float t)
                {
                    clips.CopyFrom([.. clipValues.Select((x, i) => x + t * v[i])]);
                    double logit = Logit();
                    var output = model.LayerOutput(layer).ToArray();
                    clips.CopyFrom(clipValues);
                    return (logit, output);
                }
            }
        }
    }

    [Theory]
    [InlineData(6, 10, 2, 8, false)]   // strided block with a projection shortcut and squeeze-excitation
    [InlineData(10, 10, 1, 0, true)]   // identity shortcut, no squeeze-excitation, dy overwritten
    public void BottleneckBlockGradientsMatchFiniteDifferences(int inChannels, int outChannels, int stride, int squeeze, bool overwriteGradient)
    {
        using var backend = new CpuBackend();
        using var store = new ParameterStore();
        var block = new X3DBlock(store, backend, "blocks.0", inChannels, 13, outChannels, stride, squeeze, Tiny());
        store.Allocate(backend, 4);
        ConditionForGradientCheck(store, 6);
        using var x = RandomTensor(backend, 8, 2, 3, 5, 5, inChannels);
        CheckLayer("block", store, x, v => block.Forward(v, training: true), dy => block.Backward(dy, overwriteGradient),
            step: 1e-3, tolerance: 5e-3, noiseFloor: 1e-4);
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
