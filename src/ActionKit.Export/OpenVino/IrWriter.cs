using System.Globalization;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using System.Xml;
using System.Xml.Linq;
using ActionKit.Export.Graph;
using ActionKit.Export.Quantization;

namespace ActionKit.Export.OpenVino;

/// <summary>
/// Writes a <see cref="ModelGraph"/> as OpenVINO IR v11 (reference/openvino-ir.md): the topology in <c>name.xml</c>,
/// the constants in <c>name.bin</c> beside it. Output ports carry their value's name, so <see cref="IrReader"/>
/// restores the graph with its names; graph metadata goes into the net's <c>rt_info</c>.
/// </summary>
public static class IrWriter
{
    public static void Write(ModelGraph graph, string xmlPath)
    {
        var (xml, bin) = Serialize(graph);
        // The weights first: an .xml in place always has its .bin.
        ModelFiles.Write(Path.ChangeExtension(xmlPath, ".bin"), bin);
        ModelFiles.Write(xmlPath, new UTF8Encoding(false).GetBytes(xml));
    }

    /// <summary>The text of the .xml file and the bytes of the .bin file.</summary>
    public static (string Xml, byte[] Bin) Serialize(ModelGraph graph)
    {
        var builder = new Builder(graph);
        var net = new XElement("net", new XAttribute("name", graph.Name), new XAttribute("version", "11"),
            builder.Layers, builder.Edges, RtInfo(graph.Metadata));
        using var stream = new MemoryStream();
        using (var writer = XmlWriter.Create(stream, new XmlWriterSettings { Encoding = new UTF8Encoding(false), Indent = true, IndentChars = "\t" }))
            new XDocument(net).Save(writer);
        return (Encoding.UTF8.GetString(stream.ToArray()), builder.Bin.ToArray());
    }

    static XElement RtInfo(IReadOnlyDictionary<string, string> metadata) =>
        new("rt_info", metadata.OrderBy(entry => entry.Key, StringComparer.Ordinal).Select(entry => IrOps.IsTagName(entry.Key)
            ? new XElement(entry.Key, new XAttribute("value", entry.Value))
            : new XElement("info", new XAttribute("name", entry.Key), new XAttribute("value", entry.Value))));

    /// <summary>One output port of a written layer, as its consumers' input ports and edges need it.</summary>
    readonly record struct Port(int Layer, int Id, int[] Dims, string ElementType);

    /// <summary>Emits layers in IR order: the Parameter, then each node's constants and layers, then the Result.</summary>
    sealed class Builder
    {
        static readonly XAttribute[] Numpy = [new("auto_broadcast", "numpy")];

        readonly ModelGraph graph;
        readonly IReadOnlyDictionary<string, int[]> shapes;
        readonly Dictionary<string, Port> values = [];
        readonly Dictionary<string, long> blobs = [];
        readonly Dictionary<string, int> groups;
        int nextId;

        public Builder(ModelGraph graph)
        {
            this.graph = graph;
            shapes = ShapeInference.Infer(graph);
            groups = graph.Nodes.OfType<ConvNode>().GroupBy(conv => conv.Weight).ToDictionary(group => group.Key, group => group.Max(conv => conv.Groups));
            var input = graph.Input;
            values[input.Name] = Layer(input.Name, "Parameter",
                [new("shape", string.Join(",", input.Shape.Select(dim => dim < 0 ? "?" : dim.ToString(CultureInfo.InvariantCulture)))), new("element_type", IrOps.Float)],
                [], input.Shape, input.Name);
            foreach (var node in graph.Nodes)
                values[node.Output] = Node(node, shapes[node.Output]);
            Layer(graph.Output + "/sink", "Result", [], [values[graph.Output]], null, null);
        }

        public XElement Layers { get; } = new("layers");
        public XElement Edges { get; } = new("edges");
        public MemoryStream Bin { get; } = new();

        Port Node(GraphNode node, int[] output)
        {
            switch (node)
            {
                case ReshapeNode reshape:
                    return Layer(node.Name, "Reshape", [new("special_zero", "false")],
                        [Value(reshape.Input), LongConst(node.Name + "/shape", reshape.Shape)], output, node.Output);
                case ConvNode conv:
                    return Conv(conv, output);
                case AddNode add:
                    return Layer(node.Name, "Add", Numpy, [Value(add.A), Value(add.B)], output, node.Output);
                case MulNode mul:
                    return Layer(node.Name, "Multiply", Numpy, [Value(mul.A), Value(mul.B)], output, node.Output);
                case UnaryNode unary:
                    string type = unary.Function switch { UnaryOp.Relu => "ReLU", UnaryOp.Sigmoid => "Sigmoid", _ => "Swish" };
                    return Layer(node.Name, type, [], [Value(unary.Input)], output, node.Output);
                case GlobalAveragePoolNode pool:
                    return Layer(node.Name, "ReduceMean", [new("keep_dims", "true")],
                        [Value(pool.Input), LongConst(node.Name + "/axes", [2, 3, 4])], output, node.Output);
                case LinearNode linear:
                    var product = Layer(node.Name, "MatMul", [new("transpose_a", "false"), new("transpose_b", "true")],
                        [Value(linear.Input), Value(linear.Weight)], output, linear.Bias is null ? node.Output : null);
                    return linear.Bias is null ? product : Bias(node, product, linear.Bias, [1, output[1]]);
                case FakeQuantizeNode quantize when Int8Weight.TryCreate(graph, quantize, out _) is { } weight:
                    return CompressedWeight(quantize, weight);
                case FakeQuantizeNode quantize:
                    // ActionKit's FakeQuantize maps a range onto itself: the output range Consts share the input range's blob.
                    return Layer(node.Name, "FakeQuantize", [new("levels", quantize.Levels), .. Numpy],
                        [Value(quantize.Input), Value(quantize.Low), Value(quantize.High),
                            RangeCopy(node.Name + "/output_low", quantize.Low), RangeCopy(node.Name + "/output_high", quantize.High)],
                        output, node.Output);
                default:
                    throw new NotSupportedException($"The OpenVINO IR writer has no mapping for node '{node.Name}' ({node.Op}).");
            }
        }

        /// <summary>
        /// A quantized weight as POT writes it: i8 Const -> Convert -> Multiply by the per-channel scale. The weight
        /// of a GroupConvolution is stored in its [G, Cout/G, Cin/G, kD, kH, kW] shape, so it needs no Reshape.
        /// </summary>
        Port CompressedWeight(FakeQuantizeNode quantize, Int8Weight weight)
        {
            var shape = weight.Weight.Shape;
            if (groups.TryGetValue(quantize.Output, out int count) && count > 1)
                shape = [count, shape[0] / count, .. shape[1..]];
            int[] scaleShape = weight.PerChannel ? [.. shape.Select((d, axis) => axis < shape.Length - weight.Weight.Shape.Length + 1 ? d : 1)] : [1];
            var values = Const(quantize.Input, IrOps.Int8, shape, MemoryMarshal.AsBytes(weight.Values.AsSpan()), quantize.Input);
            var converted = Layer(quantize.Name + "/convert", "Convert", [new("destination_type", IrOps.Float)], [values], shape, null);
            var scale = FloatConst(quantize.Name + "/scale", scaleShape, weight.Scales, null);
            return Layer(quantize.Name, "Multiply", Numpy, [converted, scale], shape, quantize.Output);
        }

        Port Conv(ConvNode conv, int[] output)
        {
            var input = Value(conv.Input);
            var weights = conv.Groups == 1 ? Value(conv.Weight) : GroupedWeights(conv);
            string pads = IrOps.List(conv.Pads);
            var result = Layer(conv.Name, conv.Groups == 1 ? "Convolution" : "GroupConvolution",
                [new("strides", IrOps.List(conv.Strides)), new("dilations", "1,1,1"), new("pads_begin", pads), new("pads_end", pads), new("auto_pad", "explicit")],
                [input, weights], output, conv.Bias is null ? conv.Output : null);
            return conv.Bias is null ? result : Bias(conv, result, conv.Bias, [1, output[1], 1, 1, 1]);
        }

        /// <summary>
        /// GroupConvolution wants [G, Cout/G, Cin/G, kD, kH, kW]: a float weight is stored that way; a computed one
        /// (a FakeQuantize's output) goes through a Reshape.
        /// </summary>
        Port GroupedWeights(ConvNode conv)
        {
            var weight = shapes[conv.Weight];
            int[] grouped = [conv.Groups, weight[0] / conv.Groups, .. weight[1..]];
            if (values.TryGetValue(conv.Weight, out var written) && written.Dims.Length == grouped.Length)
                return written;
            return graph.IsConstant(conv.Weight)
                ? FloatConst(conv.Weight, grouped, graph.Constant(conv.Weight).Data, conv.Weight)
                : Layer(conv.Name + "/weights", "Reshape", [new("special_zero", "false")],
                    [Value(conv.Weight), LongConst(conv.Name + "/weights/shape", grouped)], grouped, null);
        }

        Port Bias(GraphNode node, Port product, string bias, int[] shape) =>
            Layer(node.Name + "/bias", "Add", Numpy, [product, FloatConst(bias, shape, graph.Constant(bias).Data, bias)], product.Dims, node.Output);

        Port RangeCopy(string layerName, string range)
        {
            var constant = graph.Constant(range);
            return FloatConst(layerName, constant.Shape, constant.Data, null);
        }

        /// <summary>The port that defines a value; a constant's Const layer is written before its first consumer.</summary>
        Port Value(string name)
        {
            if (values.TryGetValue(name, out var port))
                return port;
            var constant = graph.Constant(name);
            return values[name] = FloatConst(name, constant.Shape, constant.Data, name);
        }

        Port FloatConst(string layerName, int[] shape, float[] data, string? valueName) =>
            Const(layerName, IrOps.Float, shape, MemoryMarshal.AsBytes(data.AsSpan()), valueName);

        Port LongConst(string layerName, int[] values)
        {
            long[] data = [.. values.Select(value => (long)value)];
            return Const(layerName, IrOps.Long, [data.Length], MemoryMarshal.AsBytes(data.AsSpan()), null);
        }

        Port Const(string layerName, string elementType, int[] shape, ReadOnlySpan<byte> bytes, string? valueName) =>
            Layer(layerName, "Const",
                [new("element_type", elementType), new("shape", IrOps.List(shape)), new("offset", Blob(bytes, elementType)), new("size", bytes.Length)],
                [], shape, valueName, elementType);

        /// <summary>The offset of these bytes in the .bin: aligned to the element size, shared by identical blobs.</summary>
        long Blob(ReadOnlySpan<byte> bytes, string elementType)
        {
            string key = elementType + Convert.ToHexString(SHA256.HashData(bytes));
            if (blobs.TryGetValue(key, out long offset))
                return offset;
            int size = IrOps.ElementSize(elementType);
            Bin.Write(new byte[(size - Bin.Length % size) % size]);
            blobs[key] = offset = Bin.Length;
            Bin.Write(bytes);
            return offset;
        }

        /// <summary>Appends a layer reading <paramref name="inputs"/> (ports 0..n-1) with one output port n, or none.</summary>
        Port Layer(string name, string type, IEnumerable<XAttribute> attributes, IReadOnlyList<Port> inputs, int[]? output,
            string? valueName, string elementType = IrOps.Float)
        {
            if (valueName?.Contains(',') == true)
                throw new NotSupportedException($"The value name '{valueName}' holds a comma, which IR port names use as a separator.");
            int id = nextId++;
            var layer = new XElement("layer", new XAttribute("id", id), new XAttribute("name", name), new XAttribute("type", type),
                new XAttribute("version", IrOps.Layers[type].Version));
            var data = new XElement("data", attributes);
            if (data.HasAttributes)
                layer.Add(data);
            if (inputs.Count > 0)
                layer.Add(new XElement("input", inputs.Select((source, port) => PortElement(port, source.ElementType, source.Dims, null))));
            for (int port = 0; port < inputs.Count; port++)
                Edges.Add(new XElement("edge", new XAttribute("from-layer", inputs[port].Layer), new XAttribute("from-port", inputs[port].Id),
                    new XAttribute("to-layer", id), new XAttribute("to-port", port)));
            Layers.Add(layer);
            if (output is null)
                return default;
            layer.Add(new XElement("output", PortElement(inputs.Count, elementType, output, valueName)));
            return new Port(id, inputs.Count, output, elementType);
        }

        static XElement PortElement(int id, string elementType, int[] dims, string? valueName) =>
            new("port", new XAttribute("id", id), new XAttribute("precision", IrOps.Precision(elementType)),
                valueName is null ? null : new XAttribute("names", valueName), dims.Select(dim => new XElement("dim", dim)));
    }
}
