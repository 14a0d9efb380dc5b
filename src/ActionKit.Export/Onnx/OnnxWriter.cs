using System.Buffers.Binary;
using System.Runtime.InteropServices;
using ActionKit.Export.Graph;
using ActionKit.Export.Onnx.Proto;
using ActionKit.Export.Quantization;
using Google.Protobuf;
using AttributeType = ActionKit.Export.Onnx.Proto.AttributeProto.Types.AttributeType;
using DataType = ActionKit.Export.Onnx.Proto.TensorProto.Types.DataType;

namespace ActionKit.Export.Onnx;

/// <summary>
/// Writes a <see cref="ModelGraph"/> as an ONNX model (opset 17, IR version 8) that ONNX Runtime loads; FakeQuantize
/// nodes become QuantizeLinear/DequantizeLinear pairs with int8 weight initializers (QDQ).
/// </summary>
public static class OnnxWriter
{
    public const long IrVersion = 8;
    public const long Opset = 17;

    /// <summary>The symbolic name written for every dynamic (-1) dimension: the batch.</summary>
    public const string BatchDimension = "N";

    public static byte[] Serialize(ModelGraph graph) => ToModel(graph).ToByteArray();

    public static void Write(ModelGraph graph, string path) => ModelFiles.Write(path, Serialize(graph));

    static ModelProto ToModel(ModelGraph graph)
    {
        var onnx = new GraphProto { Name = graph.Name };
        // A weight read only by its FakeQuantize is written once, as int8, not also as float.
        var readAsFloat = graph.Nodes.Where(node => node is not FakeQuantizeNode).SelectMany(node => node.Inputs).ToHashSet();
        foreach (var constant in graph.Constants.Where(constant => readAsFloat.Contains(constant.Name)))
            onnx.Initializer.Add(FloatTensor(constant.Name, constant.Shape.Select(d => (long)d), constant.Data));
        foreach (var node in graph.Nodes)
            Emit(onnx, graph, node);
        onnx.Input.Add(FloatValue(graph.Input.Name, graph.Input.Shape));
        onnx.Output.Add(FloatValue(graph.Output, OutputShape(graph)));

        var model = new ModelProto { IrVersion = IrVersion, ProducerName = "ActionKit", Graph = onnx };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = Opset });
        foreach (var (key, value) in graph.Metadata)
            model.MetadataProps.Add(new StringStringEntryProto { Key = key, Value = value });
        return model;
    }

    static void Emit(GraphProto onnx, ModelGraph graph, GraphNode node)
    {
        switch (node)
        {
            case ConvNode conv:
                onnx.Node.Add(Node("Conv", conv.Name, conv.Inputs, conv.Output,
                    Ints("kernel_shape", ConstantBehind(graph, conv.Weight).Shape[2..]),
                    Ints("strides", conv.Strides),
                    Ints("pads", [.. conv.Pads, .. conv.Pads]),
                    Ints("dilations", Enumerable.Repeat(1, conv.Pads.Length)),
                    Int("group", conv.Groups)));
                break;
            case AddNode or MulNode or GlobalAveragePoolNode or UnaryNode { Function: UnaryOp.Relu or UnaryOp.Sigmoid }:
                onnx.Node.Add(Node(node.Op, node.Name, node.Inputs, node.Output));
                break;
            case UnaryNode { Function: UnaryOp.Swish } swish:
                // Opset 17 has no Swish: x · sigmoid(x).
                string sigmoid = swish.Name + "/sigmoid";
                onnx.Node.Add(Node("Sigmoid", sigmoid, [swish.Input], sigmoid));
                onnx.Node.Add(Node("Mul", swish.Name, [swish.Input, sigmoid], swish.Output));
                break;
            case ReshapeNode reshape:
                string shape = reshape.Name + "/shape";
                onnx.Initializer.Add(Int64Tensor(shape, reshape.Shape));
                onnx.Node.Add(Node("Reshape", reshape.Name, [reshape.Input, shape], reshape.Output));
                break;
            case LinearNode linear:
                onnx.Node.Add(Node("Gemm", linear.Name, linear.Inputs, linear.Output, Int("transB", 1)));
                break;
            case FakeQuantizeNode quantize when graph.IsConstant(quantize.Input):
                AddWeightDequantize(onnx, graph, quantize);
                break;
            case FakeQuantizeNode quantize:
                AddActivationQuantizeDequantize(onnx, graph, quantize);
                break;
            default:
                throw new NotSupportedException($"ONNX export: node '{node.Name}' ({node.Op}) has no ONNX mapping.");
        }
    }

    /// <summary>
    /// A symmetric 255-level weight range becomes an int8 initializer q = clamp(round(w / s), -127, 127), s = high / 127,
    /// and a DequantizeLinear, so ONNX Runtime sees the DQ → Conv pattern it runs with int8 kernels.
    /// </summary>
    static void AddWeightDequantize(GraphProto onnx, ModelGraph graph, FakeQuantizeNode quantize)
    {
        var int8 = Int8Weight.TryCreate(graph, quantize, out string why) ?? throw Unsupported(quantize, why);
        var (weight, scales, perChannel) = (int8.Weight, int8.Scales, int8.PerChannel);
        var quantized = MemoryMarshal.AsBytes(int8.Values.AsSpan()).ToArray();

        long[] scaleDims = perChannel ? [scales.Length] : [];
        string values = quantize.Name + "/int8", scale = quantize.Name + "/scale", zeroPoint = quantize.Name + "/zero_point";
        onnx.Initializer.Add(Tensor(values, weight.Shape.Select(d => (long)d), DataType.Int8, quantized));
        onnx.Initializer.Add(FloatTensor(scale, scaleDims, scales));
        onnx.Initializer.Add(Tensor(zeroPoint, scaleDims, DataType.Int8, new byte[scales.Length]));
        AttributeProto[] axis = perChannel ? [Int("axis", 0)] : [];
        onnx.Node.Add(Node("DequantizeLinear", quantize.Name, [values, scale, zeroPoint], quantize.Output, axis));
    }

    /// <summary>
    /// A 256-level activation range from 0 becomes uint8 QDQ (s = high / 255); one of [-128/127 · high, high] becomes int8
    /// QDQ (s = high / 127). Both with zero point 0, which is what FakeQuantize's rounding grid is.
    /// </summary>
    static void AddActivationQuantizeDequantize(GraphProto onnx, ModelGraph graph, FakeQuantizeNode quantize)
    {
        var (low, high) = Ranges(graph, quantize);
        if (quantize.Levels != 256)
            throw Unsupported(quantize, $"an activation range needs 256 levels, not {quantize.Levels}");
        bool perChannel = !high.Shape.SequenceEqual([1]);
        if (perChannel && !IsChannelShape(high.Shape, high.Shape.Length, axis: 1, high.Data.Length))
            throw Unsupported(quantize, $"range shape [{string.Join(", ", high.Shape)}] is neither [1] nor [1, C, 1, ...]");
        bool unsigned = low.Data.All(l => l == 0);
        bool signed = Enumerable.Range(0, high.Data.Length).All(i => IsClose(low.Data[i], -high.Data[i] * 128 / 127));
        if (!unsigned && !signed)
            throw Unsupported(quantize, "an activation range must start at 0 or be signed symmetric (low = -128/127 · high)");

        var scales = high.Data.Select(h => h / (unsigned ? 255f : 127f)).ToArray();
        long[] scaleDims = perChannel ? [scales.Length] : [];
        string scale = quantize.Name + "/scale", zeroPoint = quantize.Name + "/zero_point", quantized = quantize.Name + "/quantized";
        onnx.Initializer.Add(FloatTensor(scale, scaleDims, scales));
        onnx.Initializer.Add(Tensor(zeroPoint, scaleDims, unsigned ? DataType.Uint8 : DataType.Int8, new byte[scales.Length]));
        AttributeProto[] axis = perChannel ? [Int("axis", 1)] : [];
        onnx.Node.Add(Node("QuantizeLinear", quantized, [quantize.Input, scale, zeroPoint], quantized, axis));
        onnx.Node.Add(Node("DequantizeLinear", quantize.Name, [quantized, scale, zeroPoint], quantize.Output, axis));
    }

    /// <summary>Low and high as constants of one shape with positive highs, which every QDQ scale needs.</summary>
    static (GraphConstant Low, GraphConstant High) Ranges(ModelGraph graph, FakeQuantizeNode quantize)
    {
        if (!graph.IsConstant(quantize.Low) || !graph.IsConstant(quantize.High))
            throw Unsupported(quantize, "its low and high must be constants");
        var (low, high) = (graph.Constant(quantize.Low), graph.Constant(quantize.High));
        if (!low.Shape.SequenceEqual(high.Shape))
            throw Unsupported(quantize, "low and high have different shapes");
        if (high.Data.Any(h => !(h > 0)))
            throw Unsupported(quantize, "a high of zero or below gives no quantization scale");
        return (low, high);
    }

    static bool IsChannelShape(int[] shape, int rank, int axis, int channels) =>
        shape.Length == rank && shape[axis] == channels && shape.Where((_, i) => i != axis).All(d => d == 1);

    static bool IsClose(float a, float b) => Math.Abs(a - b) <= 1e-5 * Math.Max(Math.Abs(a), Math.Abs(b));

    static NotSupportedException Unsupported(FakeQuantizeNode quantize, string why) =>
        new($"ONNX export: FakeQuantize '{quantize.Name}' has no QDQ form: {why}.");

    /// <summary>The constant a weight input names, looking through the FakeQuantize that may quantize it.</summary>
    static GraphConstant ConstantBehind(ModelGraph graph, string value) =>
        graph.Nodes.OfType<FakeQuantizeNode>().FirstOrDefault(node => node.Output == value) is { } quantize
            ? ConstantBehind(graph, quantize.Input)
            : graph.Constant(value);

    /// <summary>[N, K] when a Linear returns the output (K its weight's rows); null (no shape written) otherwise.</summary>
    static int[]? OutputShape(ModelGraph graph) =>
        graph.Nodes.LastOrDefault(node => node.Output == graph.Output) is LinearNode linear
            ? [-1, ConstantBehind(graph, linear.Weight).Shape[0]]
            : null;

    static NodeProto Node(string opType, string name, IEnumerable<string> inputs, string output, params AttributeProto[] attributes)
    {
        var node = new NodeProto { OpType = opType, Name = name };
        node.Input.AddRange(inputs);
        node.Output.Add(output);
        node.Attribute.AddRange(attributes);
        return node;
    }

    static AttributeProto Int(string name, long value) => new() { Name = name, Type = AttributeType.Int, I = value };

    static AttributeProto Ints(string name, IEnumerable<int> values)
    {
        var attribute = new AttributeProto { Name = name, Type = AttributeType.Ints };
        attribute.Ints.AddRange(values.Select(v => (long)v));
        return attribute;
    }

    static ValueInfoProto FloatValue(string name, int[]? shape)
    {
        var tensor = new TypeProto.Types.Tensor { ElemType = (int)DataType.Float };
        if (shape is not null)
        {
            tensor.Shape = new TensorShapeProto();
            tensor.Shape.Dim.AddRange(shape.Select(d => d < 0
                ? new TensorShapeProto.Types.Dimension { DimParam = BatchDimension }
                : new TensorShapeProto.Types.Dimension { DimValue = d }));
        }
        return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = tensor } };
    }

    static TensorProto Tensor(string name, IEnumerable<long> dims, DataType type, byte[] raw)
    {
        var tensor = new TensorProto { Name = name, DataType = (int)type, RawData = UnsafeByteOperations.UnsafeWrap(raw) };
        tensor.Dims.AddRange(dims);
        return tensor;
    }

    static TensorProto FloatTensor(string name, IEnumerable<long> dims, float[] data)
    {
        var raw = new byte[data.Length * sizeof(float)];
        for (int i = 0; i < data.Length; i++)
            BinaryPrimitives.WriteSingleLittleEndian(raw.AsSpan(i * sizeof(float)), data[i]);
        return Tensor(name, dims, DataType.Float, raw);
    }

    static TensorProto Int64Tensor(string name, int[] data)
    {
        var raw = new byte[data.Length * sizeof(long)];
        for (int i = 0; i < data.Length; i++)
            BinaryPrimitives.WriteInt64LittleEndian(raw.AsSpan(i * sizeof(long)), data[i]);
        return Tensor(name, [data.Length], DataType.Int64, raw);
    }
}
