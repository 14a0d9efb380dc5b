using ActionKit.Export.Graph;
using ActionKit.Export.OpenVino;
using ActionKit.Pipeline.Evaluation;
using ActionKit.Pipeline.Export;
using ActionKit.Pipeline.Parameters;
using ActionKit.Pipeline.Training;

namespace ActionKit.Pipeline.Tests;

/// <summary>Export and Optimize on a model trained for two epochs on the tiny synthetic dataset.</summary>
public sealed class ExportTests(TinyDataset data) : IClassFixture<TinyDataset>
{
    string TrainTinyModel(TempFolder output)
    {
        Trainer.Run(new TrainingRun(output.Path, TinyDataset.Template(epochs: 2), data.Labels, data.Train, data.Val, "cpu", false, Workers: 1),
            null, CancellationToken.None);
        return output.Combine(Trainer.ModelsFolder, TrainedModel.WeightsFileName);
    }

    PerformanceReport Evaluate(string model) =>
        Evaluator.Evaluate(new EvaluationRequest(model, data.ValRoot, "cpu", Workers: 1, TimeReversalCheck: false), null, default);

    [Fact]
    public void ExportedModelsScoreExactlyAsTheTrainedOneAndQuantizedOnesAgreeWithEachOther()
    {
        using var output = new TempFolder();
        string weights = TrainTinyModel(output);
        string exported = output.Combine("exported"), optimized = output.Combine("optimized");

        var export = ModelExporter.Export(weights, exported, data.ValRoot, workers: 1, CancellationToken.None);
        foreach (var file in new[] { "model.onnx", "openvino.xml", "openvino.bin", "label_schema.json", "template.yaml", "export.json" })
            Assert.True(File.Exists(Path.Combine(exported, file)), file);
        Assert.Empty(Directory.GetFiles(exported, "*.tmp"));
        Assert.All(export.Agreement, agreement =>
        {
            Assert.True(agreement.MaxAbsoluteDifference <= 1e-4 * Math.Max(1, agreement.MaxAbsoluteLogit), $"{agreement.Runtime}: {agreement.MaxAbsoluteDifference}");
            Assert.Equal(1.0, agreement.Top1Agreement);
        });
        var trained = Evaluate(weights);
        foreach (var file in new[] { "model.onnx", "openvino.xml" })
        {
            var report = Evaluate(Path.Combine(exported, file));
            Assert.Equal(trained.Accuracy, report.Accuracy);
            Assert.Equal(trained.Confusion.Matrix, report.Confusion.Matrix);
        }

        var options = new OptimizeParams { SubsetSize = 10 };
        var quantization = ModelExporter.Optimize(Path.Combine(exported, "openvino.xml"), optimized, data.TrainRoot, data.ValRoot, options, 1, null, default);
        Assert.Equal(10, quantization.CalibrationClips);
        var graph = IrReader.Read(Path.Combine(exported, "openvino.xml"));
        Assert.Equal(graph.Nodes.Count(node => node is ConvNode or LinearNode), quantization.Layers.Count);
        var quantizedGraph = IrReader.Read(Path.Combine(optimized, "openvino.xml"));
        // One FakeQuantize per layer's weights, one per quantized activation: every layer's input and both sides of each residual Add.
        Assert.Equal(quantization.Layers.Count + quantization.Activations.Count, quantizedGraph.Nodes.OfType<FakeQuantizeNode>().Count());
        Assert.Subset(quantization.Activations.Select(a => a.Value).ToHashSet(), quantization.Layers.Select(l => l.Input).ToHashSet());
        Assert.Contains(quantization.Activations, a => a.Value == "blocks.0.c.0");
        Assert.Contains(quantization.Activations, a => a.Value == "blocks.0.short.0");
        var onnx = Evaluate(Path.Combine(optimized, "model.int8.onnx"));
        var ir = Evaluate(Path.Combine(optimized, "openvino.xml"));
        Assert.Equal(data.Val.Count, onnx.Videos);
        Assert.Equal(ir.Videos, onnx.Videos);
        Assert.Contains("ONNX Runtime", onnx.Runtime);
        Assert.Contains("IR executor", ir.Runtime);

        // The same calibration subset gives the same INT8 model.
        string again = output.Combine("optimized-again");
        ModelExporter.Optimize(Path.Combine(exported, "openvino.xml"), again, data.TrainRoot, data.ValRoot, options, 1, null, default);
        Assert.Equal(File.ReadAllBytes(Path.Combine(optimized, "openvino.bin")), File.ReadAllBytes(Path.Combine(again, "openvino.bin")));
        Assert.Equal(File.ReadAllBytes(Path.Combine(optimized, "model.int8.onnx")), File.ReadAllBytes(Path.Combine(again, "model.int8.onnx")));

        // Accuracy-aware mode with no drop allowed: layers go back to float until INT8 scores what float scores, or none is left.
        var aware = ModelExporter.Optimize(Path.Combine(exported, "openvino.xml"), output.Combine("optimized-aware"), data.TrainRoot, data.ValRoot,
            options with { MaxDrop = 0 }, 1, null, default).AccuracyAware!;
        Assert.Equal(data.Val.Count, aware.Videos);
        Assert.True(aware.FinalTop1 >= aware.FloatTop1 || aware.Reverted.Count == quantization.Layers.Count, $"{aware.FinalTop1} against {aware.FloatTop1}");
        Assert.Equal(aware.Int8Top1 < aware.FloatTop1, aware.Reverted.Count > 0);
        Assert.Null(quantization.AccuracyAware);

        var predictions = Predictor.Predict(Path.Combine(exported, "model.onnx"), data.Val[0].Frames.Name, "cpu", 5, out _);
        Assert.Equal(5, predictions.Count);
    }

    [Fact]
    public void ACorruptOrCompanionlessModelIsAClearError()
    {
        using var output = new TempFolder();
        string weights = TrainTinyModel(output);
        string exported = output.Combine("exported");
        ModelExporter.Export(weights, exported, data.ValRoot, workers: 1, CancellationToken.None);

        string xml = Path.Combine(exported, "openvino.xml");
        File.WriteAllText(xml, File.ReadAllText(xml).Replace("version=\"11\"", "version=\"10\"", StringComparison.Ordinal));
        var corrupt = Assert.Throws<IrFormatException>(() => ModelExporter.Optimize(xml, output.Combine("optimized"), data.TrainRoot, data.ValRoot,
            new OptimizeParams { SubsetSize = 4 }, 1, null, default));
        Assert.Contains(xml, corrupt.Message);

        File.Delete(Path.Combine(exported, "template.yaml"));
        var missing = Assert.Throws<TrainingException>(() => Evaluate(Path.Combine(exported, "model.onnx")));
        Assert.Contains("template.yaml", missing.Message);

        File.Copy(weights, weights + ".pth");
        var unknown = Assert.Throws<TrainingException>(() => Evaluate(weights + ".pth"));
        Assert.Contains("not a model ActionKit runs", unknown.Message);
    }
}
