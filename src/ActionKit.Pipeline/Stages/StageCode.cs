namespace ActionKit.Pipeline.Stages;

/// <summary>
/// The code units (<see cref="Caching.CodeIndex"/>) and NuGet packages that several stages run. A stage lists only what
/// it executes, so an edit reruns just the stages it can change: a kernel edit reruns Train and the stages below it,
/// not Synth, Convert or Build; an exporter edit reruns Export and Optimize, not Train. Params' parsing and the stage
/// cache itself are not listed: what they produce (param values, keys) is in every key already.
/// </summary>
internal static class StageCode
{
    /// <summary>Frames and videos, the dataset formats, the synthetic dataset and the clip loader.</summary>
    public const string Data = "ActionKit.Data";

    /// <summary>JPEG encoding and decoding (videos go through the ffmpeg tool, not a package).</summary>
    public static readonly string[] DataPackages = ["SixLabors.ImageSharp"];

    /// <summary>Reading and writing the workspace's template.yaml and data.yaml.</summary>
    public static readonly string[] Workspace = ["ActionKit.Pipeline/Workspace", "ActionKit.Pipeline/Yaml"];

    /// <summary>An X3D built from a template and run by the engine on decoded clips.</summary>
    public static readonly string[] Model = ["ActionKit.Kernels", "ActionKit.Engine", Data, "ActionKit.Pipeline/Templates", .. Workspace];

    /// <summary>The kernels' TensorPrimitives and ILGPU (the GPU backend), JPEG decoding, the template's YAML.</summary>
    public static readonly string[] ModelPackages = ["System.Numerics.Tensors", "ILGPU", "ILGPU.Algorithms", "SixLabors.ImageSharp", "YamlDotNet"];

    /// <summary>Trained weights loaded and evaluated on the test root.</summary>
    public static readonly string[] Evaluation = [.. Model, "ActionKit.Pipeline/Training", "ActionKit.Pipeline/Evaluation"];

    /// <summary>The model graph, the ONNX and OpenVINO IR writers and readers, the IR executor and the quantizer.</summary>
    public static readonly string[] Export = [.. Evaluation, "ActionKit.Export", "ActionKit.Pipeline/Export"];

    /// <summary>ONNX serialization (protoc, from Grpc.Tools, generates it from onnx.proto) and ONNX Runtime, which checks and evaluates the models.</summary>
    public static readonly string[] ExportPackages = [.. ModelPackages, "Google.Protobuf", "Grpc.Tools", "Microsoft.ML.OnnxRuntime"];
}
