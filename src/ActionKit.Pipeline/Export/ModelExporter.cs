using System.Numerics.Tensors;
using System.Text.Json;
using ActionKit.Data;
using ActionKit.Data.Cvat;
using ActionKit.Data.Loading;
using ActionKit.Export.Graph;
using ActionKit.Export.Onnx;
using ActionKit.Export.OpenVino;
using ActionKit.Export.Quantization;
using ActionKit.Pipeline.Caching;
using ActionKit.Pipeline.Evaluation;
using ActionKit.Pipeline.Parameters;
using ActionKit.Pipeline.Training;

namespace ActionKit.Pipeline.Export;

/// <summary>How far two runtimes' logits are apart on the same clips, and how often their top-1 agrees.</summary>
public sealed record RuntimeAgreement(string Runtime, int Clips, double MaxAbsoluteDifference, double MaxAbsoluteLogit, double Top1Agreement);

/// <summary>export.json: what Export wrote and how closely the exported runtimes reproduce the engine.</summary>
public sealed record ExportReport(string Onnx, string OpenVino, int Nodes, long Parameters, IReadOnlyList<RuntimeAgreement> Agreement);

/// <summary>quantization.json: how Optimize quantized the model and how closely the INT8 runtimes follow the float one.</summary>
public sealed record QuantizationReport(string Onnx, string OpenVino, string Preset, int CalibrationClips, bool FastBiasCorrection,
    IReadOnlyList<QuantizedLayer> Layers, IReadOnlyList<QuantizedActivation> Activations, IReadOnlyList<RuntimeAgreement> Agreement,
    AccuracyAwareReport? AccuracyAware);

/// <summary>
/// The reference's <c>otx export</c> and <c>otx optimize</c>: trained weights to model.onnx and OpenVINO IR
/// (openvino.xml + .bin), and an exported IR to its INT8 form (model.int8.onnx with QDQ and openvino.xml with
/// FakeQuantize). Every model folder also gets label_schema.json and template.yaml, so any runtime evaluates with the
/// same preprocessing.
/// </summary>
public static class ModelExporter
{
    public const string OnnxFileName = "model.onnx";
    public const string QuantizedOnnxFileName = "model.int8.onnx";
    public const string IrFileName = "openvino.xml";
    public const string ExportReportFileName = "export.json";
    public const string QuantizationReportFileName = "quantization.json";
    const int AgreementBatches = 2;

    static readonly JsonSerializerOptions Json = new(ParamsLoader.JsonOptions) { WriteIndented = true };

    /// <summary>Writes the exported models of <paramref name="weightsPath"/> into <paramref name="folder"/> and checks them on <paramref name="testRoot"/>.</summary>
    public static ExportReport Export(string weightsPath, string folder, string testRoot, int workers, CancellationToken cancellationToken)
    {
        using var model = new EngineClassifier(weightsPath, "cpu");
        var graph = X3DGraphBuilder.Build(model.Network, model.Preprocessing(), model.Labels.Names, new Dictionary<string, string>
        {
            ["producer"] = $"ActionKit {ActionKitVersion.Current}",
            ["template"] = model.Template.Id,
        });
        Directory.CreateDirectory(folder);
        TrainedModel.SaveCompanions(folder, model.Labels, model.Template);
        OnnxWriter.Write(graph, Path.Combine(folder, OnnxFileName));
        IrWriter.Write(graph, Path.Combine(folder, IrFileName));

        var agreement = Agree(model, [Path.Combine(folder, OnnxFileName), Path.Combine(folder, IrFileName)], testRoot, workers, cancellationToken);
        var report = new ExportReport(OnnxFileName, IrFileName, graph.Nodes.Count, graph.Constants.Sum(c => c.Length), agreement);
        AtomicFile.WriteAllText(Path.Combine(folder, ExportReportFileName), JsonSerializer.Serialize(report, Json) + "\n");
        return report;
    }

    /// <summary>
    /// Quantizes the exported IR at <paramref name="irPath"/> to INT8 with clips of up to
    /// <paramref name="options"/>.SubsetSize videos of <paramref name="calibrationRoot"/> (shuffled, one centre clip each),
    /// with accuracy-aware mode when <paramref name="options"/>.MaxDrop is set (validated on <paramref name="testRoot"/>),
    /// writes both INT8 models into <paramref name="folder"/> and checks them against the float IR on <paramref name="testRoot"/>.
    /// </summary>
    public static QuantizationReport Optimize(string irPath, string folder, string calibrationRoot, string testRoot, OptimizeParams options,
        int workers, IProgress<WorkProgress>? progress, CancellationToken cancellationToken)
    {
        var (labels, template) = VideoClassifier.Companions(irPath);
        using var reference = new OpenVinoClassifier(irPath, labels, template);
        var graph = reference.Graph;
        var calibration = CalibrationBatches(reference, calibrationRoot, options, workers, progress, cancellationToken);
        int passes = calibration.Count * (options.FastBiasCorrection ? 2 : 1);
        var quantization = PostTrainingQuantizer.Quantize(graph, calibration, options.FastBiasCorrection,
            new Progress<int>(done => progress?.Report(new WorkProgress("quantizing", done, passes))));
        var quantized = quantization.Graph;
        AccuracyAwareReport? accuracyAware = null;
        if (options.MaxDrop is double maxDrop)
            (quantized, accuracyAware) = AccuracyAwareQuantization.Apply(graph, quantization, maxDrop, reference, testRoot, workers, progress, cancellationToken);
        var reverted = accuracyAware?.Reverted.Select(layer => layer.Name).ToHashSet() ?? [];
        Directory.CreateDirectory(folder);
        TrainedModel.SaveCompanions(folder, reference.Labels, reference.Template);
        OnnxWriter.Write(quantized, Path.Combine(folder, QuantizedOnnxFileName));
        IrWriter.Write(quantized, Path.Combine(folder, IrFileName));

        var agreement = Agree(reference, [Path.Combine(folder, QuantizedOnnxFileName), Path.Combine(folder, IrFileName)], testRoot, workers, cancellationToken);
        var report = new QuantizationReport(QuantizedOnnxFileName, IrFileName, "performance", quantization.CalibrationClips,
            options.FastBiasCorrection, [.. quantization.Layers.Where(layer => !reverted.Contains(layer.Name))],
            [.. quantization.Activations.Where(activation => quantized.Nodes.Any(node => node is FakeQuantizeNode fq && fq.Input == activation.Value))],
            agreement, accuracyAware);
        AtomicFile.WriteAllText(Path.Combine(folder, QuantizationReportFileName), JsonSerializer.Serialize(report, Json) + "\n");
        return report;
    }

    /// <summary>"ONNX Runtime (CPU): model.onnx max |Δlogit| 2e-06, top-1 agreement 1.000; ..." for progress lines.</summary>
    public static string Describe(IReadOnlyList<RuntimeAgreement> agreement) =>
        string.Join("; ", agreement.Select(a => FormattableString.Invariant($"{a.Runtime} max |Δlogit| {a.MaxAbsoluteDifference:G2}, top-1 agreement {a.Top1Agreement:F3}")));

    /// <summary>The models' logits against <paramref name="reference"/>'s on the first test clips (at most two batches of 8).</summary>
    static List<RuntimeAgreement> Agree(VideoClassifier reference, IReadOnlyList<string> modelPaths, string testRoot, int workers,
        CancellationToken cancellationToken)
    {
        int classes = reference.Labels.Names.Count;
        var videos = LabeledVideo.FromCvat(CvatDataset.Open(testRoot), reference.Labels.Names).Take(AgreementBatches * 8).ToList();
        var expected = Logits(reference, videos, workers, cancellationToken);
        var result = new List<RuntimeAgreement>();
        foreach (var path in modelPaths)
        {
            using var model = VideoClassifier.Open(path);
            var actual = Logits(model, videos, workers, cancellationToken);
            double maxDifference = 0, maxLogit = 0;
            int clips = expected.Length / classes, agreeing = 0;
            for (int row = 0; row < clips; row++)
            {
                var a = expected.AsSpan(row * classes, classes);
                var b = actual.AsSpan(row * classes, classes);
                maxDifference = Math.Max(maxDifference, MaxAbsoluteDifference(a, b));
                maxLogit = Math.Max(maxLogit, Math.Abs(TensorPrimitives.MaxMagnitude(a)));
                agreeing += TensorPrimitives.IndexOfMax(a) == TensorPrimitives.IndexOfMax(b) ? 1 : 0;
            }
            result.Add(new RuntimeAgreement(model.Runtime + ": " + Path.GetFileName(path), clips, maxDifference, maxLogit, clips == 0 ? 0 : agreeing / (double)clips));
        }
        return result;
    }

    static float MaxAbsoluteDifference(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        Span<float> difference = stackalloc float[a.Length];
        TensorPrimitives.Subtract(a, b, difference);
        return Math.Abs(TensorPrimitives.MaxMagnitude(difference));
    }

    /// <summary>The logits of one centre clip of each video, rows in video order.</summary>
    static float[] Logits(VideoClassifier model, IReadOnlyList<LabeledVideo> videos, int workers, CancellationToken cancellationToken)
    {
        using var loader = new ClipLoader(videos, model.Preprocessing(testClips: 1), new ClipLoaderOptions { Mode = ClipMode.Test, BatchSize = 8, Workers = workers });
        return [.. loader.ReadEpoch(0, cancellationToken).SelectMany(model.Logits)];
    }

    /// <summary>One centre clip in pixels from each of up to SubsetSize videos, shuffled with a fixed seed (OTX: min(300, videos)).</summary>
    static List<CalibrationBatch> CalibrationBatches(VideoClassifier model, string root, OptimizeParams options, int workers,
        IProgress<WorkProgress>? progress, CancellationToken cancellationToken)
    {
        var all = LabeledVideo.FromCvat(CvatDataset.Open(root), model.Labels.Names);
        var random = new Random(options.Seed);
        var subset = all.OrderBy(_ => random.Next()).Take(options.SubsetSize).ToList();
        using var loader = new ClipLoader(subset, model.Preprocessing(testClips: 1), new ClipLoaderOptions { Mode = ClipMode.Test, BatchSize = 8, Workers = workers });
        var batches = new List<CalibrationBatch>();
        foreach (var batch in loader.ReadEpoch(0, cancellationToken))
        {
            batches.Add(new CalibrationBatch(VideoClassifier.ModelInput(batch), batch.Count));
            progress?.Report(new WorkProgress("loading calibration clips", batches.Count, loader.BatchesPerEpoch));
        }
        return batches;
    }
}
