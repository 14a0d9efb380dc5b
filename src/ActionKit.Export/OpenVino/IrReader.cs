using System.Globalization;
using System.Runtime.InteropServices;
using System.Xml;
using System.Xml.Linq;
using ActionKit.Export.Graph;
using ActionKit.Export.Quantization;

namespace ActionKit.Export.OpenVino;

/// <summary>
/// Reads OpenVINO IR v11 (<c>name.xml</c> and <c>name.bin</c> beside it) of the layer types <see cref="IrWriter"/>
/// writes back into a <see cref="ModelGraph"/>, folding bias Adds into their convolution or MatMul. Every problem is an
/// <see cref="IrFormatException"/> naming the file and the layer or edge.
/// </summary>
public static class IrReader
{
    public static ModelGraph Read(string xmlPath)
    {
        string binPath = Path.ChangeExtension(xmlPath, ".bin");
        if (!File.Exists(xmlPath))
            throw new IrFormatException(xmlPath, "the IR file does not exist");
        if (!File.Exists(binPath))
            throw new IrFormatException(binPath, $"the weights file of {Path.GetFileName(xmlPath)} does not exist");
        XDocument document;
        try
        {
            document = XDocument.Load(xmlPath);
        }
        catch (XmlException error)
        {
            throw new IrFormatException(xmlPath, $"not well-formed XML: {error.Message}", error);
        }
        return new Reading(xmlPath, binPath, document.Root!, File.ReadAllBytes(binPath)).Graph();
    }

    sealed record IrPort(int Id, int[] Dims, string? Names);

    sealed record IrLayer(int Id, string Name, string Type, XElement? Data, IrPort[] Inputs, IrPort[] Outputs, int Position)
    {
        public override string ToString() => $"layer {Id} '{Name}' ({Type})";
    }

    /// <summary>A Const layer's element type, shape and exactly the bytes its shape needs.</summary>
    sealed record IrConstant(string ElementType, int[] Shape, byte[] Bytes);

    /// <summary>One file pair being read: its layers and edges validated on construction, then turned into nodes.</summary>
    sealed class Reading
    {
        readonly string file;
        readonly XElement net;
        readonly List<IrLayer> layers = [];
        readonly Dictionary<int, IrLayer> byId = [];
        readonly Dictionary<(int Layer, int Port), int> sources = [];
        readonly Dictionary<int, List<(int Layer, int Port)>> consumers = [];
        readonly Dictionary<int, IrConstant> consts = [];
        readonly Dictionary<int, string> constantNames = [];
        readonly List<GraphConstant> constants = [];

        public Reading(string file, string binPath, XElement net, byte[] bin)
        {
            this.file = file;
            this.net = net;
            if (net.Name != "net" || (string?)net.Attribute("version") != "11")
                throw new IrFormatException(file, $"the root is <{net.Name} version=\"{(string?)net.Attribute("version")}\">, not <net version=\"11\"> (OpenVINO IR v11)");
            foreach (var element in net.Element("layers")?.Elements("layer") ?? [])
            {
                var layer = Layer(element, layers.Count);
                if (!byId.TryAdd(layer.Id, layer))
                    throw new IrFormatException(file, $"{layer}: the id {layer.Id} is used twice");
                layers.Add(layer);
                consumers[layer.Id] = [];
                if (layer.Type == "Const")
                    consts[layer.Id] = Constant(layer, bin, binPath);
            }
            foreach (var element in net.Element("edges")?.Elements("edge") ?? [])
                Edge(element);
            foreach (var layer in layers)
                foreach (var port in layer.Inputs)
                    if (!sources.ContainsKey((layer.Id, port.Id)))
                        throw new IrFormatException(file, $"{layer}: no edge reaches input port {port.Id}");
            foreach (string type in new[] { "Parameter", "Result" })
                if (layers.Count(layer => layer.Type == type) != 1)
                    throw new IrFormatException(file, $"the network has {layers.Count(layer => layer.Type == type)} {type} layers; ActionKit reads networks with exactly one");
        }

        public ModelGraph Graph()
        {
            GraphInput? input = null;
            string? output = null;
            var nodes = new List<GraphNode>();
            foreach (var layer in TopologicalOrder())
            {
                if (layer.Type == "Parameter")
                    input = new GraphInput(ValueName(layer), Parameter(layer));
                else if (layer.Type == "Result")
                    output = Value(layer, 0);
                else if (layer.Type != "Const" && Node(layer) is GraphNode node)
                    nodes.Add(node);
            }
            try
            {
                var graph = new ModelGraph((string?)net.Attribute("name") ?? "", input!, output!, nodes, constants, Metadata());
                ShapeInference.Infer(graph);
                return graph;
            }
            catch (InvalidDataException error)
            {
                throw new IrFormatException(file, error.Message, error);
            }
        }

        GraphNode? Node(IrLayer layer)
        {
            if (layer.Type is "Add" or "Multiply" or "FakeQuantize" && Attribute(layer, "auto_broadcast", "numpy") != "numpy")
                throw Error(layer, "auto_broadcast is not \"numpy\"");
            return layer.Type switch
            {
                "Reshape" when FeedsGroupedWeights(layer) => null,
                "Reshape" => new ReshapeNode(layer.Name, ValueName(layer), Value(layer, 0), Longs(layer, 1)),
                "Convolution" or "GroupConvolution" or "MatMul" when BiasOf(layer) is not null => null,
                "Convolution" or "GroupConvolution" => Conv(layer, ValueName(layer), null),
                "MatMul" => Linear(layer, ValueName(layer), null),
                "Add" when FoldedProduct(layer) is IrLayer product => product.Type == "MatMul"
                    ? Linear(product, ValueName(layer), Bias(layer))
                    : Conv(product, ValueName(layer), Bias(layer)),
                "Add" => new AddNode(layer.Name, ValueName(layer), Value(layer, 0), Value(layer, 1)),
                "Convert" when DequantizesWeight(layer) => null,
                "Convert" => throw Error(layer, "is not part of an i8 Const -> Convert -> Multiply compressed weight"),
                "Multiply" when Source(layer, 0).Type == "Convert" => CompressedWeight(layer),
                "Multiply" => new MulNode(layer.Name, ValueName(layer), Value(layer, 0), Value(layer, 1)),
                "ReLU" => new UnaryNode(layer.Name, ValueName(layer), UnaryOp.Relu, Value(layer, 0)),
                "Sigmoid" => new UnaryNode(layer.Name, ValueName(layer), UnaryOp.Sigmoid, Value(layer, 0)),
                "Swish" => new UnaryNode(layer.Name, ValueName(layer), UnaryOp.Swish, Value(layer, 0)),
                "ReduceMean" => Pool(layer),
                "FakeQuantize" => Quantize(layer),
                _ => throw Error(layer, "is not an operation ActionKit maps to a node"),
            };
        }

        ConvNode Conv(IrLayer layer, string output, string? bias)
        {
            int[] pads = Ints(layer, "pads_begin");
            if (!Ints(layer, "pads_end").SequenceEqual(pads))
                throw Error(layer, "pads_end differs from pads_begin; ActionKit reads symmetric pads");
            if (Ints(layer, "dilations").Any(dilation => dilation != 1))
                throw Error(layer, "has dilations other than 1");
            if (Attribute(layer, "auto_pad", "explicit") != "explicit")
                throw Error(layer, "auto_pad is not \"explicit\"");
            string input = Value(layer, 0);
            if (layer.Type == "Convolution")
                return new ConvNode(layer.Name, output, input, Value(layer, 1), bias, Ints(layer, "strides"), pads, 1);
            var dims = layer.Inputs[1].Dims;
            if (dims.Length != 6)
                throw Error(layer, $"weights {ShapeInference.Format(dims)} are not [G, Cout/G, Cin/G, kD, kH, kW]");
            return new ConvNode(layer.Name, output, input, GroupedWeights(layer), bias, Ints(layer, "strides"), pads, dims[0]);
        }

        /// <summary>[Cout, Cin/G, kD, kH, kW] from a 6-D Const, a 6-D compressed weight, or the value a Reshape makes 6-D.</summary>
        string GroupedWeights(IrLayer layer)
        {
            var source = Source(layer, 1);
            if (source.Type == "Reshape" && FeedsGroupedWeights(source))
                return Value(source, 0);
            if (source.Type == "Multiply" && Source(source, 0).Type == "Convert")
                return ValueName(source);
            if (source.Type != "Const" || consts[source.Id].Shape.Length != 6)
                throw Error(layer, $"its weights come from {source}, not a 6-D Const or a Reshape");
            var shape = consts[source.Id].Shape;
            return Constant(source, [shape[0] * shape[1], .. shape[2..]]);
        }

        bool FeedsGroupedWeights(IrLayer reshape) =>
            consumers[reshape.Id] is [var only] && byId[only.Layer].Type == "GroupConvolution" && only.Port == byId[only.Layer].Inputs[1].Id;

        LinearNode Linear(IrLayer layer, string output, string? bias)
        {
            if (Attribute(layer, "transpose_a", "false") != "false" || Attribute(layer, "transpose_b", "false") != "true")
                throw Error(layer, "is not transpose_a=\"false\" transpose_b=\"true\" (x · weightᵀ)");
            return new LinearNode(layer.Name, output, Value(layer, 0), Value(layer, 1), bias);
        }

        /// <summary>The Add that a Convolution, GroupConvolution or MatMul alone feeds with a per-channel Const, if any.</summary>
        IrLayer? BiasOf(IrLayer product)
        {
            if (consumers[product.Id] is not [var only] || byId[only.Layer] is not { Type: "Add" } add || only.Port != add.Inputs[0].Id)
                return null;
            var bias = Source(add, 1);
            int rank = product.Type == "MatMul" ? 2 : 5;
            return bias.Type == "Const" && consts[bias.Id].Shape is var shape && shape.Length == rank
                && shape.Where((_, axis) => axis != 1).All(dim => dim == 1) ? add : null;
        }

        IrLayer? FoldedProduct(IrLayer add) =>
            Source(add, 0) is { Type: "Convolution" or "GroupConvolution" or "MatMul" } product && BiasOf(product) == add ? product : null;

        string Bias(IrLayer add)
        {
            var source = Source(add, 1);
            return Constant(source, [consts[source.Id].Shape[1]]);
        }

        GlobalAveragePoolNode Pool(IrLayer layer)
        {
            if (Attribute(layer, "keep_dims", "false") != "true" || !Longs(layer, 1).SequenceEqual([2, 3, 4]))
                throw Error(layer, "is not a mean over axes [2, 3, 4] with keep_dims=\"true\"");
            return new GlobalAveragePoolNode(layer.Name, ValueName(layer), Value(layer, 0));
        }

        FakeQuantizeNode Quantize(IrLayer layer)
        {
            foreach (int range in new[] { 1, 2 })
            {
                IrLayer input = Source(layer, range), output = Source(layer, range + 2);
                if (input.Type != "Const" || output.Type != "Const" || !consts[input.Id].Shape.SequenceEqual(consts[output.Id].Shape)
                    || !consts[input.Id].Bytes.AsSpan().SequenceEqual(consts[output.Id].Bytes))
                    throw Error(layer, $"inputs {range} and {range + 2} are not equal Consts; ActionKit reads FakeQuantize whose output range is its input range");
            }
            int levels = Integer(Attribute(layer, "levels", ""), $"{layer}: levels");
            return new FakeQuantizeNode(layer.Name, ValueName(layer), Value(layer, 0), Value(layer, 1), Value(layer, 2), levels);
        }

        /// <summary>A Convert of an i8 Const to f32 that feeds a Multiply alone: the first half of a compressed weight.</summary>
        bool DequantizesWeight(IrLayer convert) =>
            Attribute(convert, "destination_type", "") == IrOps.Float && Source(convert, 0) is { Type: "Const" } values
            && consts[values.Id].ElementType == IrOps.Int8
            && consumers[convert.Id] is [var only] && byId[only.Layer].Type == "Multiply" && only.Port == byId[only.Layer].Inputs[0].Id;

        /// <summary>
        /// i8 Const -> Convert -> Multiply by an f32 scale per output channel (POT's compressed weight) as the graph's
        /// FakeQuantize form: the weight q · s behind a symmetric 255-level FakeQuantize with high = 127 · s, which gives
        /// back exactly q · s. The ranges are named <c>{weight}.fq_low</c> and <c>{weight}.fq_high</c>, as the quantizer names them.
        /// </summary>
        FakeQuantizeNode CompressedWeight(IrLayer multiply)
        {
            var convert = Source(multiply, 0);
            if (!DequantizesWeight(convert))
                throw Error(multiply, $"reads {convert}, which is not an f32 Convert of an i8 Const feeding this Multiply alone");
            IrLayer valuesLayer = Source(convert, 0), scaleLayer = Source(multiply, 1);
            var values = consts[valuesLayer.Id];
            if (scaleLayer.Type != "Const" || consts[scaleLayer.Id].ElementType != IrOps.Float)
                throw Error(multiply, $"scales the i8 weight by {scaleLayer}, not an f32 Const");
            var scales = MemoryMarshal.Cast<byte, float>(consts[scaleLayer.Id].Bytes).ToArray();
            // A grouped weight [G, Cout/G, Cin/G, k...] is read as [Cout, Cin/G, k...], its scales per G · Cout/G.
            bool grouped = consumers[multiply.Id] is [var only] && byId[only.Layer].Type == "GroupConvolution";
            int[] shape = grouped && values.Shape.Length == 6 ? [values.Shape[0] * values.Shape[1], .. values.Shape[2..]] : values.Shape;
            if (shape.Length == 0 || (scales.Length != 1 && scales.Length != shape[0]) || scales.Any(scale => !(scale > 0)))
                throw Error(multiply, $"its scale {ShapeInference.Format(consts[scaleLayer.Id].Shape)} is neither one positive value nor one per output channel of the weight {ShapeInference.Format(values.Shape)}");
            var quantized = MemoryMarshal.Cast<byte, sbyte>(values.Bytes);
            if (quantized.IndexOf((sbyte)-128) is int at && at >= 0)
                throw Error(valuesLayer, $"value {at} is -128; a symmetric 255-level weight lies in -127..127");
            string weight = ValueName(valuesLayer);
            var dequantized = Int8Weight.Dequantize(quantized, scales);
            int[] rangeShape = scales.Length == 1 ? [1] : [.. shape.Select((d, axis) => axis == 0 ? d : 1)];
            constants.Add(new GraphConstant(weight, shape, dequantized));
            constants.Add(new GraphConstant(weight + ".fq_low", rangeShape, [.. scales.Select(scale => -Int8Weight.HighOf(scale))]));
            constants.Add(new GraphConstant(weight + ".fq_high", rangeShape, [.. scales.Select(Int8Weight.HighOf)]));
            return new FakeQuantizeNode(multiply.Name, ValueName(multiply), weight, weight + ".fq_low", weight + ".fq_high", 255);
        }

        /// <summary>The value an input reads: a float Const becomes a graph constant of the Const's shape.</summary>
        string Value(IrLayer layer, int input)
        {
            var source = Source(layer, input);
            return source.Type == "Const" ? Constant(source, consts[source.Id].Shape) : ValueName(source);
        }

        string Constant(IrLayer layer, int[] shape)
        {
            if (constantNames.TryGetValue(layer.Id, out string? known))
                return known;
            var constant = consts[layer.Id];
            if (constant.ElementType != IrOps.Float)
                throw Error(layer, $"holds {constant.ElementType} where a float constant is read");
            string name = constantNames[layer.Id] = ValueName(layer);
            constants.Add(new GraphConstant(name, shape, MemoryMarshal.Cast<byte, float>(constant.Bytes).ToArray()));
            return name;
        }

        int[] Longs(IrLayer layer, int input)
        {
            var source = Source(layer, input);
            if (source.Type != "Const" || consts[source.Id].ElementType != IrOps.Long)
                throw Error(layer, $"input {input} comes from {source}, not an i64 Const");
            return [.. MemoryMarshal.Cast<byte, long>(consts[source.Id].Bytes).ToArray().Select(value => (int)value)];
        }

        IrLayer Source(IrLayer layer, int input) => byId[sources[(layer.Id, layer.Inputs[input].Id)]];

        /// <summary>The first of an output port's names (OpenVINO's tensor names); the layer name where it has none.</summary>
        static string ValueName(IrLayer layer) =>
            layer.Outputs[0].Names is { Length: > 0 } names ? names.Split(',')[0] : layer.Name;

        int[] Parameter(IrLayer layer)
        {
            if (Attribute(layer, "element_type", "") != IrOps.Float)
                throw Error(layer, "element_type is not f32");
            string shape = Attribute(layer, "shape", "");
            return shape.Length == 0 ? [] : [.. shape.Split(',').Select(dim => dim == "?" ? -1 : Integer(dim, $"{layer}: shape"))];
        }

        /// <summary>The net's rt_info entries that hold a value; nested entries (OpenVINO's own) are not graph metadata.</summary>
        Dictionary<string, string> Metadata()
        {
            var metadata = new Dictionary<string, string>();
            foreach (var entry in net.Element("rt_info")?.Elements() ?? [])
            {
                string key = entry.Name == "info" && entry.Attribute("name") is { } name ? name.Value : entry.Name.LocalName;
                if (entry.Attribute("value") is { } value && !metadata.TryAdd(key, value.Value))
                    throw new IrFormatException(file, $"rt_info holds '{key}' twice");
            }
            return metadata;
        }

        /// <summary>Kahn's order, taking layers in file order where several are ready, so a written file reads in its own order.</summary>
        List<IrLayer> TopologicalOrder()
        {
            var waiting = layers.ToDictionary(layer => layer.Id, layer => layer.Inputs.Length);
            var ready = new PriorityQueue<IrLayer, int>(layers.Where(layer => layer.Inputs.Length == 0).Select(layer => (layer, layer.Position)));
            var order = new List<IrLayer>();
            while (ready.TryDequeue(out var layer, out _))
            {
                order.Add(layer);
                foreach (var (consumer, _) in consumers[layer.Id])
                    if (--waiting[consumer] == 0)
                        ready.Enqueue(byId[consumer], byId[consumer].Position);
            }
            if (order.Count < layers.Count)
                throw new IrFormatException(file, $"the edges form a cycle through {layers.First(layer => waiting[layer.Id] > 0)}");
            return order;
        }

        IrLayer Layer(XElement element, int position)
        {
            string name = (string?)element.Attribute("name") ?? "", type = (string?)element.Attribute("type") ?? "";
            string where = $"layer {(string?)element.Attribute("id")} '{name}' ({type})";
            int id = Integer((string?)element.Attribute("id"), $"{where}: id");
            if (!IrOps.Layers.TryGetValue(type, out var op))
                throw new IrFormatException(file, $"{where}: unknown layer type; ActionKit reads {string.Join(", ", IrOps.Layers.Keys)}");
            if ((string?)element.Attribute("version") != op.Version)
                throw new IrFormatException(file, $"{where}: version '{(string?)element.Attribute("version")}' is not {op.Version}");
            var inputs = Ports(element.Element("input"), where);
            var outputs = Ports(element.Element("output"), where);
            int expectedOutputs = type == "Result" ? 0 : 1;
            if (inputs.Length != op.Inputs || outputs.Length != expectedOutputs)
                throw new IrFormatException(file, $"{where}: has {inputs.Length} inputs and {outputs.Length} outputs, not {op.Inputs} and {expectedOutputs}");
            if (inputs.Concat(outputs).DistinctBy(port => port.Id).Count() != inputs.Length + outputs.Length)
                throw new IrFormatException(file, $"{where}: two ports share an id");
            return new IrLayer(id, name, type, element.Element("data"), inputs, outputs, position);
        }

        IrPort[] Ports(XElement? list, string where) =>
            [.. (list?.Elements("port") ?? []).Select(port => new IrPort(
                Integer((string?)port.Attribute("id"), $"{where}: port id"),
                [.. port.Elements("dim").Select(dim => Integer(dim.Value, $"{where}: dim"))],
                (string?)port.Attribute("names")))];

        void Edge(XElement element)
        {
            string[] ends = [.. new[] { "from-layer", "from-port", "to-layer", "to-port" }.Select(end => (string?)element.Attribute(end) ?? "")];
            string where = $"edge {ends[0]}:{ends[1]} -> {ends[2]}:{ends[3]}";
            int[] numbers = [.. ends.Select(end => Integer(end, where))];
            if (!byId.TryGetValue(numbers[0], out var from) || !from.Outputs.Any(port => port.Id == numbers[1]))
                throw new IrFormatException(file, $"{where}: there is no layer {numbers[0]} with output port {numbers[1]}");
            if (!byId.TryGetValue(numbers[2], out var to) || !to.Inputs.Any(port => port.Id == numbers[3]))
                throw new IrFormatException(file, $"{where}: there is no layer {numbers[2]} with input port {numbers[3]}");
            if (!sources.TryAdd((to.Id, numbers[3]), from.Id))
                throw new IrFormatException(file, $"{where}: input port {numbers[3]} of {to} has a second edge");
            consumers[from.Id].Add((to.Id, numbers[3]));
        }

        IrConstant Constant(IrLayer layer, byte[] bin, string binPath)
        {
            string elementType = Attribute(layer, "element_type", "");
            if (elementType is not (IrOps.Float or IrOps.Long or IrOps.Int8))
                throw Error(layer, $"element_type '{elementType}' is not f32, i64 or i8");
            string shapeText = Attribute(layer, "shape", "");
            int[] shape = shapeText.Length == 0 ? [] : [.. shapeText.Split(',').Select(dim => Integer(dim, $"{layer}: shape"))];
            long offset = Integer(Attribute(layer, "offset", ""), $"{layer}: offset");
            long size = Integer(Attribute(layer, "size", ""), $"{layer}: size");
            if (offset < 0 || size < 0 || offset + size > bin.Length)
                throw Error(layer, $"bytes {offset}..{offset + size} lie past the end of {binPath} ({bin.Length} bytes)");
            long needed = shape.Aggregate((long)IrOps.ElementSize(elementType), (a, b) => a * b);
            if (shape.Any(dim => dim < 0) || size < needed)
                throw Error(layer, $"size {size} is smaller than the {needed} bytes that {elementType} {ShapeInference.Format(shape)} needs");
            return new IrConstant(elementType, shape, bin[(int)offset..(int)(offset + needed)]);
        }

        string Attribute(IrLayer layer, string name, string fallback) => (string?)layer.Data?.Attribute(name) ?? fallback;

        int[] Ints(IrLayer layer, string name) =>
            [.. Attribute(layer, name, "").Split(',').Select(value => Integer(value, $"{layer}: {name}"))];

        int Integer(string? text, string what) =>
            int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int value)
                ? value
                : throw new IrFormatException(file, $"{what}: '{text}' is not an integer");

        IrFormatException Error(IrLayer layer, string problem) => new(file, $"{layer}: {problem}");
    }
}
