using ActionKit.Export.Graph;
using ActionKit.Export.Quantization;
using ActionKit.Export.Runtime;

namespace ActionKit.Export.Tests;

public class QuantizerTests
{
    static List<CalibrationBatch> Batches(int count, int seed)
    {
        var random = new Random(seed);
        return [.. Enumerable.Range(0, count).Select(_ =>
            new CalibrationBatch([.. Enumerable.Range(0, 2 * 3 * 4 * 9 * 9).Select(_ => (float)random.Next(256))], 2))];
    }

    [Fact]
    public void EveryLayerGetsQuantizedWeightsAndInputsWithTheRangesThePresetPrescribes()
    {
        var graph = SampleGraphs.TinyX3D();
        var result = PostTrainingQuantizer.Quantize(graph, Batches(3, 1));
        var quantizedNodes = result.Graph.Nodes.OfType<FakeQuantizeNode>().ToList();
        int layers = graph.Nodes.Count(node => node is ConvNode or LinearNode);
        Assert.Equal(layers, result.Layers.Count);
        Assert.Equal(layers, quantizedNodes.Count(node => node.Levels == 255));
        foreach (var layer in result.Graph.Nodes.OfType<ConvNode>())
            Assert.EndsWith(".fq", layer.Input, StringComparison.Ordinal);
        // "stem" follows a ReLU: unsigned; "normalized" (pixels · scale + shift) can be negative: signed, 128/127 below.
        var stem = result.Layers.First(layer => layer.Input == "stem");
        Assert.Equal(0f, stem.InputLow);
        var first = result.Layers.First(layer => layer.Input == "normalized");
        Assert.Equal(-first.InputHigh * 128 / 127, first.InputLow, 5);
        // Two layers read "stem": one FakeQuantize serves both.
        Assert.Single(quantizedNodes, node => node.Input == "stem");
    }

    [Fact]
    public void TheQuantizedGraphStaysCloseToTheFloatOneAndBiasCorrectionReducesTheMeanError()
    {
        var graph = SampleGraphs.TinyX3D(seed: 4);
        var calibration = Batches(6, 2);
        var corrected = new GraphExecutor(PostTrainingQuantizer.Quantize(graph, calibration).Graph);
        var uncorrected = new GraphExecutor(PostTrainingQuantizer.Quantize(graph, calibration, fastBiasCorrection: false).Graph);
        var reference = new GraphExecutor(graph);
        double correctedBias = 0, uncorrectedBias = 0, worst = 0, scale = 0;
        int outputs = 0;
        foreach (var batch in calibration)
        {
            var expected = reference.Run(batch.Input, batch.Batch);
            var withCorrection = corrected.Run(batch.Input, batch.Batch);
            var without = uncorrected.Run(batch.Input, batch.Batch);
            for (int i = 0; i < expected.Length; i++, outputs++)
            {
                correctedBias += withCorrection[i] - expected[i];
                uncorrectedBias += without[i] - expected[i];
                worst = Math.Max(worst, Math.Abs(withCorrection[i] - expected[i]));
                scale = Math.Max(scale, Math.Abs(expected[i]));
            }
        }
        Assert.True(worst < 0.1 * scale, $"worst logit error {worst} against logits up to {scale}");
        Assert.True(Math.Abs(correctedBias) < Math.Abs(uncorrectedBias),
            $"mean logit error with bias correction {correctedBias / outputs}, without {uncorrectedBias / outputs}");
    }

    [Fact]
    public void ResidualAndGateJoinsAreQuantizedAndOnnxRuntimeRunsTheResultAsTheExecutorDoes()
    {
        var graph = SampleGraphs.TinyX3D(seed: 9);
        var calibration = Batches(3, 5);
        var result = PostTrainingQuantizer.Quantize(graph, calibration);
        var values = result.Activations.Select(a => a.Value).ToHashSet();
        Assert.Superset(new HashSet<string> { "block.c.conv", "block.short.conv", "block.b.conv", "block.se.scale" }, values);
        Assert.DoesNotContain("scaled", values);

        string folder = Directory.CreateTempSubdirectory("actionkit-quantizer-").FullName;
        try
        {
            string path = Path.Combine(folder, "model.int8.onnx");
            Onnx.OnnxWriter.Write(result.Graph, path);
            using var runner = new Onnx.OnnxRunner(path, threads: 1);
            var executor = new GraphExecutor(result.Graph);
            foreach (var batch in calibration)
            {
                var expected = executor.Run(batch.Input, batch.Batch);
                var actual = runner.Run(batch.Input, [batch.Batch, 1, 3, 4, 9, 9]);
                double scale = expected.Max(Math.Abs), worst = expected.Select((e, i) => Math.Abs(actual[i] - e)).Max();
                Assert.True(worst <= 2e-2 * scale, $"worst |executor - ORT| {worst:g3} against logits up to {scale:g3}");
            }
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public void NoCalibrationDataIsAClearError() =>
        Assert.Contains("calibration", Assert.Throws<ArgumentException>(() => PostTrainingQuantizer.Quantize(SampleGraphs.TinyX3D(), [])).Message);

    [Fact]
    public void RevertedLayersAreTheFloatOnesAndTheirFakeQuantizesGo()
    {
        var graph = SampleGraphs.TinyX3D(seed: 2);
        var quantized = PostTrainingQuantizer.Quantize(graph, Batches(2, 5)).Graph;
        var reverted = PostTrainingQuantizer.Revert(quantized, graph, new HashSet<string> { "block.a", "head.fc1" });
        Assert.Equal(graph.Nodes.Single(node => node.Name == "block.a"), reverted.Nodes.Single(node => node.Name == "block.a"));
        Assert.Equal(graph.Constant("block.a.bias").Data, reverted.Constant("block.a.bias").Data);
        Assert.NotEqual(graph.Constant("block.c.bias").Data, reverted.Constant("block.c.bias").Data);
        var inputs = reverted.Nodes.OfType<FakeQuantizeNode>().Select(node => node.Input).ToList();
        Assert.DoesNotContain("block.a.weight", inputs);
        Assert.DoesNotContain("head.features", inputs);
        // block.short still reads stem through its FakeQuantize.
        Assert.Contains("stem", inputs);
        Assert.False(reverted.IsConstant("head.features.fq_low"));

        var all = PostTrainingQuantizer.Revert(quantized, graph, graph.Nodes.Where(node => node is ConvNode or LinearNode).Select(node => node.Name).ToHashSet());
        Assert.DoesNotContain(all.Nodes, node => node is FakeQuantizeNode { Levels: 255 });
        var error = Assert.Throws<ArgumentException>(() => PostTrainingQuantizer.Revert(quantized, graph, new HashSet<string> { "nope" }));
        Assert.Contains("no layer nope", error.Message);
    }
}
