using ActionKit.Export.Onnx.Proto;
using Microsoft.ML.OnnxRuntime;

namespace ActionKit.Export.Onnx;

/// <summary>
/// An ONNX Runtime session on the CPU provider (ORT's default: no other provider is appended) over one model file with one float input and one float output: the
/// independent runtime that checks what <see cref="OnnxWriter"/> writes. Dispose it to free the native session.
/// </summary>
public sealed class OnnxRunner : IDisposable
{
    readonly InferenceSession session;
    readonly string[] inputNames, outputNames;

    /// <param name="modelPath">The .onnx file; missing or refused by ORT throws <see cref="InvalidDataException"/>.</param>
    /// <param name="threads">ORT's intra-op thread count; 0 keeps ORT's default (one per physical core).</param>
    public OnnxRunner(string modelPath, int threads = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(threads);
        session = OpenSession(modelPath, options => options.IntraOpNumThreads = threads);
        var (input, output) = (session.InputMetadata.First(), session.OutputMetadata.First());
        inputNames = [input.Key];
        outputNames = [output.Key];
        InputShape = input.Value.Dimensions;
    }

    public string InputName => inputNames[0];

    /// <summary>The input's dimensions as the model declares them; -1 for a symbolic one (the batch).</summary>
    public IReadOnlyList<int> InputShape { get; }

    public string OutputName => outputNames[0];

    /// <summary>
    /// Runs the model on <paramref name="input"/> (row-major, <paramref name="inputShape"/>) and returns the output's
    /// values row-major in a new array the caller owns. The input is only read during the call; calls from several
    /// threads at once are safe (ORT's Run is), each gets its own output.
    /// </summary>
    public float[] Run(float[] input, int[] inputShape)
    {
        long count = inputShape.Aggregate(1L, (product, d) => product * d);
        if (count != input.LongLength)
            throw new ArgumentException($"Shape [{string.Join(", ", inputShape)}] holds {count} values, but the input has {input.LongLength}.", nameof(input));
        using var value = OrtValue.CreateTensorValueFromMemory(input, [.. inputShape.Select(d => (long)d)]);
        using var runOptions = new RunOptions();
        using var outputs = session.Run(runOptions, inputNames, [value], outputNames);
        return outputs[0].GetTensorDataAsSpan<float>().ToArray();
    }

    public void Dispose() => session.Dispose();

    /// <summary>
    /// The op types of the graph ORT runs after its ORT_ENABLE_ALL optimizations, in node order ("domain:op" outside
    /// the default domain), e.g. to see whether QDQ became QLinearConv (int8 kernels).
    /// </summary>
    public static IReadOnlyList<string> OptimizedOpTypes(string modelPath)
    {
        string optimizedPath = Path.Combine(Path.GetTempPath(), $"actionkit-optimized-{Guid.NewGuid():N}.onnx");
        try
        {
            OpenSession(modelPath, options => options.OptimizedModelFilePath = optimizedPath).Dispose();
            var model = ModelProto.Parser.ParseFrom(File.ReadAllBytes(optimizedPath));
            return [.. model.Graph.Node.Select(node => node.Domain is "" or "ai.onnx" ? node.OpType : $"{node.Domain}:{node.OpType}")];
        }
        finally
        {
            File.Delete(optimizedPath);
        }
    }

    static InferenceSession OpenSession(string modelPath, Action<SessionOptions> configure)
    {
        if (!File.Exists(modelPath))
            throw ModelError(modelPath, "the file does not exist");
        using var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL };
        configure(options);
        try
        {
            return new InferenceSession(modelPath, options);
        }
        catch (OnnxRuntimeException error)
        {
            throw ModelError(modelPath, $"ONNX Runtime refuses it: {error.Message}", error);
        }
    }

    static InvalidDataException ModelError(string modelPath, string reason, Exception? inner = null) =>
        new($"ONNX model '{modelPath}': {reason}", inner);
}
