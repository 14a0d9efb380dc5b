using ActionKit.Data.Loading;
using ActionKit.Engine;
using ActionKit.Engine.Models;
using ActionKit.Export.Graph;
using ActionKit.Export.Runtime;
using ActionKit.Pipeline.Export;

namespace ActionKit.Pipeline.Tests;

public sealed class X3DExportTests
{
    static readonly X3DConfig TinyConfig = new()
    {
        NumClasses = 3,
        StemWidth = 4,
        Widths = [4, 8],
        Depths = [2, 2],
        HeadWidth = 12,
        HeadHidden = 16,
    };

    internal static ClipPreprocessing Preprocessing(int frames, int size) =>
        new(frames, 2, 1, size, size, size, (0.5, 1), (0.75, 1.33), 0.5, [110f, 100f, 90f], [60f, 55f, 50f]);

    /// <summary>A tiny X3D whose every parameter and BN statistic is random, so no folded term can hide behind a zero or a one.</summary>
    internal static X3D RandomNetwork(IBackend backend, int seed = 5, bool strideOnlyShortcutNorm = true)
    {
        var network = new X3D(TinyConfig with { StrideOnlyShortcutWithoutNorm = !strideOnlyShortcutNorm }, backend, seed: 1);
        var random = new Random(seed);
        foreach (var parameter in network.Parameters.Parameters)
        {
            bool variance = parameter.Name.EndsWith("running_var", StringComparison.Ordinal);
            var values = Enumerable.Range(0, (int)parameter.Length)
                .Select(_ => variance ? 0.5f + random.NextSingle() : 0.6f * (random.NextSingle() - 0.5f)).ToArray();
            parameter.Value.CopyFrom(values);
        }
        return network;
    }

    /// <summary>Raw pixels [N, 1, 3, T, S, S] and the engine's normalized channels-last view of them [N, T, S, S, 3].</summary>
    internal static (float[] Pixels, float[] Normalized) Clips(ClipPreprocessing preprocessing, int batch, int seed)
    {
        int frames = preprocessing.ClipLength, size = preprocessing.TestCropSize, positions = frames * size * size;
        var random = new Random(seed);
        var pixels = Enumerable.Range(0, batch * 3 * positions).Select(_ => (float)random.Next(256)).ToArray();
        var normalized = new float[pixels.Length];
        for (int n = 0; n < batch; n++)
            for (int c = 0; c < 3; c++)
                for (int s = 0; s < positions; s++)
                {
                    float scale = 1 / preprocessing.Std[c], offset = -preprocessing.Mean[c] * scale;
                    normalized[(n * positions + s) * 3 + c] = pixels[(n * 3 + c) * positions + s] * scale + offset;
                }
        return (pixels, normalized);
    }

    /// <summary>Also without the first block's shortcut BN, as PyTorchVideo's X3D has it.</summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void TheExportedGraphComputesWhatTheEngineComputes(bool strideOnlyShortcutNorm)
    {
        using var backend = new CpuBackend();
        using var network = RandomNetwork(backend, strideOnlyShortcutNorm: strideOnlyShortcutNorm);
        Assert.Equal(strideOnlyShortcutNorm, network.Parameters.Parameters.Any(p => p.Name == "blocks.0.short.1.weight"));
        var preprocessing = Preprocessing(frames: 6, size: 20);
        var graph = X3DGraphBuilder.Build(network, preprocessing, ["a", "b", "c"], new Dictionary<string, string>());
        var (pixels, normalized) = Clips(preprocessing, batch: 2, seed: 3);

        using var clips = backend.Allocate(2, 6, 20, 20, 3);
        clips.CopyFrom(normalized);
        var expected = network.Forward(clips, training: false).ToArray();
        var actual = new GraphExecutor(graph).Run(pixels, batch: 2);

        Assert.Equal(expected.Length, actual.Length);
        double scale = expected.Max(Math.Abs);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-4 * scale, $"logit {i}: engine {expected[i]}, graph {actual[i]}");
    }

    [Fact]
    public void TheGraphHasNoBatchNormAndNamesItsInputAndOutputLikeTheReference()
    {
        using var backend = new CpuBackend();
        using var network = RandomNetwork(backend);
        var graph = X3DGraphBuilder.Build(network, Preprocessing(4, 16), ["a", "b", "c"], new Dictionary<string, string>());
        Assert.Equal([-1, 1, 3, 4, 16, 16], graph.Input.Shape);
        Assert.Equal("data", graph.Input.Name);
        Assert.Equal("logits", graph.Output);
        Assert.DoesNotContain(graph.Constants, constant => constant.Name.Contains("running", StringComparison.Ordinal));
        Assert.Equal("a\nb\nc", graph.Metadata["labels"]);
        Assert.Equal(2, graph.Nodes.OfType<ConvNode>().Count(conv => conv.Name.EndsWith(".se.fc1", StringComparison.Ordinal)));
        // Node and constant names become OpenVINO layer names: no two alike.
        var names = graph.Nodes.Select(node => node.Name).Concat(graph.Constants.Select(constant => constant.Name)).ToList();
        Assert.Equal(names.Count, names.Distinct().Count());
    }
}
