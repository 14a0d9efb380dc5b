using ActionKit.Data.Loading;
using ActionKit.Engine;
using ActionKit.Engine.Models;
using ActionKit.Export.Graph;
using ActionKit.Export.Onnx;
using ActionKit.Export.OpenVino;
using ActionKit.Export.Runtime;
using ActionKit.Pipeline.Templates;
using ActionKit.Pipeline.Training;
using ActionKit.Pipeline.Workspace;

namespace ActionKit.Pipeline.Evaluation;

/// <summary>
/// A model that scores clips, whatever runs it: trained weights (the engine), an exported or quantized model.onnx
/// (ONNX Runtime) or openvino.xml (ActionKit's IR reader and executor). Each sits beside the label_schema.json and
/// template.yaml it was trained with, so every runtime gets the same preprocessing. Dispose when done.
/// </summary>
public abstract class VideoClassifier : IDisposable
{
    protected VideoClassifier(string modelPath, LabelSchema labels, ModelTemplate template)
    {
        ModelPath = modelPath;
        Labels = labels;
        Template = template;
    }

    public string ModelPath { get; }
    public LabelSchema Labels { get; }
    public ModelTemplate Template { get; }

    /// <summary>What runs the model, for reports.</summary>
    public abstract string Runtime { get; }

    /// <summary>
    /// The preprocessing the model's clips need: the template's, with its normalization when the model expects
    /// normalized clips (the engine) and without when the normalization is baked into the model (exported models).
    /// </summary>
    public ClipPreprocessing Preprocessing(int? testClips = null, int testCrops = 1)
    {
        var preprocessing = ModelFactory.Preprocessing(Template.Data, testClips, testCrops);
        return TakesPixels ? preprocessing with { Mean = [0f, 0f, 0f], Std = [1f, 1f, 1f] } : preprocessing;
    }

    /// <summary>True when the model's input is pixels (0-255) and it normalizes them itself.</summary>
    protected abstract bool TakesPixels { get; }

    /// <summary>Logits [batch.Count, classes] of a test-mode batch made with <see cref="Preprocessing"/>.</summary>
    public abstract float[] Logits(ClipBatch batch);

    public abstract void Dispose();

    /// <summary>Opens <paramref name="modelPath"/> by its extension: .safetensors, .onnx or .xml (OpenVINO IR).</summary>
    public static VideoClassifier Open(string modelPath, string device = "auto")
    {
        RequireModelFile(modelPath);
        switch (Path.GetExtension(modelPath).ToLowerInvariant())
        {
            case ".safetensors":
                return new EngineClassifier(modelPath, device);
            case ".onnx":
                {
                    var (labels, template) = Companions(modelPath);
                    return new OnnxClassifier(modelPath, labels, template);
                }
            case ".xml":
                {
                    var (labels, template) = Companions(modelPath);
                    return new OpenVinoClassifier(modelPath, labels, template);
                }
            default:
                throw new TrainingException($"{modelPath}: not a model ActionKit runs (weights .safetensors, .onnx, or OpenVINO .xml)");
        }
    }

    /// <summary>The label schema and template beside a model file (which must exist).</summary>
    public static (LabelSchema Labels, ModelTemplate Template) Companions(string modelPath)
    {
        RequireModelFile(modelPath);
        string folder = Path.GetDirectoryName(Path.GetFullPath(modelPath))!;
        var labels = LabelSchema.Load(Path.Combine(folder, LabelSchema.FileName));
        string templatePath = Path.Combine(folder, WorkspaceTemplate.FileName);
        if (!File.Exists(templatePath))
            throw new TrainingException($"{templatePath}: the template the model was trained with is missing (training and export write it beside the model)");
        return (labels, WorkspaceTemplate.Load(templatePath));
    }

    static void RequireModelFile(string modelPath)
    {
        if (!File.Exists(modelPath))
            throw new TrainingException($"{modelPath}: model file not found");
    }

    /// <summary>[N, T, H, W, 3] channels-last clips to the exported models' [N, 1, 3, T, H, W].</summary>
    public static float[] ModelInput(ClipBatch batch) =>
        GraphExecutor.ToLogical(batch.Data.AsSpan(0, batch.Count * batch.ClipLength * batch.Size * batch.Size * ClipBatch.Channels),
            [batch.Count, ClipBatch.Channels, batch.ClipLength * batch.Size * batch.Size]);

    public static int[] ModelInputShape(ClipBatch batch) => [batch.Count, 1, ClipBatch.Channels, batch.ClipLength, batch.Size, batch.Size];
}

/// <summary>Trained weights run by the engine on the chosen device.</summary>
public sealed class EngineClassifier : VideoClassifier
{
    readonly IBackend backend;
    readonly TrainedModel model;
    readonly BatchInput input;

    internal EngineClassifier(string weightsPath, string device) : this(Devices.Create(device), weightsPath) { }

    EngineClassifier(IBackend backend, string weightsPath) : this(backend, Load(backend, weightsPath)) { }

    EngineClassifier(IBackend backend, TrainedModel model) : base(model.WeightsPath, model.Labels, model.Template)
    {
        this.backend = backend;
        this.model = model;
        input = new BatchInput(backend);
    }

    /// <summary>The trained network, in evaluation mode whenever this classifier runs it.</summary>
    public X3D Network => model.Network;

    public override string Runtime => $"ActionKit engine ({backend.Name})";
    protected override bool TakesPixels => false;

    public override float[] Logits(ClipBatch batch) => model.Network.Forward(input.Load(batch), training: false).ToArray();

    public override void Dispose()
    {
        input.Dispose();
        model.Dispose();
        backend.Dispose();
    }

    static TrainedModel Load(IBackend backend, string weightsPath)
    {
        try
        {
            return TrainedModel.Load(weightsPath, backend);
        }
        catch
        {
            backend.Dispose();
            throw;
        }
    }
}

/// <summary>An OpenVINO IR (openvino.xml + .bin) read back by ActionKit's reader and run by its graph executor.</summary>
public sealed class OpenVinoClassifier : VideoClassifier
{
    readonly GraphExecutor executor;

    public OpenVinoClassifier(string xmlPath, LabelSchema labels, ModelTemplate template) : base(xmlPath, labels, template)
    {
        Graph = IrReader.Read(xmlPath);
        executor = new GraphExecutor(Graph);
        // An IR the integer path cannot run in full still runs, in float for those layers; the user hears it once.
        if (executor.Notice is { } notice)
            Console.Error.WriteLine($"{xmlPath}: {notice}");
    }

    /// <summary>The network as the IR describes it.</summary>
    public ModelGraph Graph { get; }

    public override string Runtime => executor.IntegerLayers > 0 ? $"ActionKit IR executor (CPU, {executor.IntegerLayers} int8 layers)" : "ActionKit IR executor (CPU)";
    protected override bool TakesPixels => true;

    public override float[] Logits(ClipBatch batch) =>
        executor.RunChannelsLast(batch.Data.AsSpan(0, batch.Count * batch.ClipLength * batch.Size * batch.Size * ClipBatch.Channels), batch.Count);

    public override void Dispose() { }
}

/// <summary>A model.onnx run by ONNX Runtime on the CPU, the independent runtime that checks ActionKit's exports.</summary>
public sealed class OnnxClassifier(string onnxPath, LabelSchema labels, ModelTemplate template) : VideoClassifier(onnxPath, labels, template)
{
    readonly OnnxRunner runner = new(onnxPath);

    public override string Runtime => "ONNX Runtime (CPU)";
    protected override bool TakesPixels => true;

    public override float[] Logits(ClipBatch batch) => runner.Run(ModelInput(batch), ModelInputShape(batch));

    public override void Dispose() => runner.Dispose();
}
