using System.Collections;
using System.Runtime.InteropServices;
using System.Xml.Linq;
using ActionKit.Export.Graph;
using ActionKit.Export.OpenVino;

namespace ActionKit.Export.Tests;

public sealed class OpenVinoTests : IDisposable
{
    readonly string directory = Directory.CreateTempSubdirectory("actionkit-ir-").FullName;

    public void Dispose() => Directory.Delete(directory, recursive: true);

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void TheWrittenXmlFollowsIrV11(bool quantized)
    {
        var (xml, bin) = IrWriter.Serialize(SampleGraphs.TinyX3D(quantized: quantized));
        var net = XDocument.Parse(xml).Root!;
        Assert.Equal("net", net.Name);
        Assert.Equal(quantized ? "tiny_x3d_int8" : "tiny_x3d", (string?)net.Attribute("name"));
        Assert.Equal("11", (string?)net.Attribute("version"));
        Assert.Equal(["layers", "edges", "rt_info"], net.Elements().Select(element => element.Name.LocalName));
        Assert.Equal("a b c d e", (string?)net.Element("rt_info")!.Element("labels")!.Attribute("value"));

        var layers = net.Element("layers")!.Elements("layer").ToList();
        Assert.Equal(Enumerable.Range(0, layers.Count).Select(id => id.ToString()), layers.Select(layer => (string?)layer.Attribute("id")));
        Assert.Equal("Parameter", Type(layers[0]));
        Assert.Equal("Result", Type(layers[^1]));
        Assert.Single(layers, layer => Type(layer) == "Parameter");
        Assert.Single(layers, layer => Type(layer) == "Result");
        string[] types = ["Parameter", "Const", "Reshape", "Multiply", "Add", "Convolution", "GroupConvolution", "ReLU", "Sigmoid", "Swish",
            "ReduceMean", "MatMul", "Result", .. quantized ? new[] { "FakeQuantize", "Convert" } : []];
        Assert.Equal(types.Order(), layers.Select(Type).Distinct().Order());
        foreach (var layer in layers)
            Assert.Equal(Type(layer) == "Swish" ? "opset4" : "opset1", (string?)layer.Attribute("version"));

        var parameter = layers[0];
        Assert.Equal(["shape", "element_type"], parameter.Element("data")!.Attributes().Select(attribute => attribute.Name.LocalName));
        Assert.Equal("?,1,3,4,9,9", (string?)parameter.Element("data")!.Attribute("shape"));
        Assert.Equal([-1, 1, 3, 4, 9, 9], Dims(OutputPort(parameter)));
        Assert.Equal("data", (string?)OutputPort(parameter).Attribute("names"));
        Assert.Equal("logits/sink", (string?)layers[^1].Attribute("name"));
        Assert.Null(layers[^1].Element("output"));
        Assert.Equal([-1, 5], Dims(layers[^1].Element("input")!.Element("port")!));

        foreach (var layer in layers)
        {
            var inputs = layer.Element("input")?.Elements("port").ToList() ?? [];
            Assert.Equal(Enumerable.Range(0, inputs.Count).Select(id => id.ToString()), inputs.Select(port => (string?)port.Attribute("id")));
            if (layer.Element("output") is { } output)
                Assert.Equal(inputs.Count.ToString(), (string?)output.Element("port")!.Attribute("id"));
        }
        foreach (var edge in net.Element("edges")!.Elements("edge"))
        {
            int from = (int)edge.Attribute("from-layer")!, to = (int)edge.Attribute("to-layer")!;
            Assert.True(from < to, $"edge {from} -> {to} runs against the layer order");
            int sourceInputs = layers[from].Element("input")?.Elements("port").Count() ?? 0;
            Assert.Equal(sourceInputs, (int)edge.Attribute("from-port")!);
            var target = layers[to].Element("input")!.Elements("port").Single(port => (string?)port.Attribute("id") == (string?)edge.Attribute("to-port"));
            Assert.Equal(Dims(OutputPort(layers[from])), Dims(target));
            Assert.Equal((string?)OutputPort(layers[from]).Attribute("precision"), (string?)target.Attribute("precision"));
        }

        var offsets = new Dictionary<string, string>();
        foreach (var constant in layers.Where(layer => Type(layer) == "Const"))
        {
            var data = constant.Element("data")!;
            Assert.Equal(["element_type", "shape", "offset", "size"], data.Attributes().Select(attribute => attribute.Name.LocalName));
            var (elementSize, precision) = (string?)data.Attribute("element_type") switch { "i64" => (8, "I64"), "i8" => (1, "I8"), _ => (4, "FP32") };
            Assert.Equal(precision, (string?)OutputPort(constant).Attribute("precision"));
            int[] shape = [.. ((string)data.Attribute("shape")!).Split(',').Select(int.Parse)];
            long offset = (long)data.Attribute("offset")!, size = (long)data.Attribute("size")!;
            Assert.Equal(0, offset % elementSize);
            Assert.Equal(shape.Aggregate((long)elementSize, (a, b) => a * b), size);
            Assert.True(offset + size <= bin.Length);
            Assert.Equal(shape, Dims(OutputPort(constant)));
            offsets[(string)constant.Attribute("name")!] = (string)data.Attribute("offset")!;
        }
        Assert.Equal([6, 1, 1, 3, 1, 1], Dims(Layer(layers, "stem.conv_t").Element("input")!.Elements("port").ElementAt(1)));
        if (quantized)
            Assert.Equal(offsets["normalized.fq_low"], offsets["normalized.fq/output_low"]);
    }

    [Fact]
    public void LayerAttributesFollowTheSpec()
    {
        var (xml, bin) = IrWriter.Serialize(SampleGraphs.TinyX3D());
        var layers = XDocument.Parse(xml).Root!.Element("layers")!.Elements("layer").ToList();
        Assert.Equal([("strides", "1,2,2"), ("dilations", "1,1,1"), ("pads_begin", "0,1,1"), ("pads_end", "0,1,1"), ("auto_pad", "explicit")],
            Attributes(Layer(layers, "stem.conv_xy")));
        Assert.Equal([("auto_broadcast", "numpy")], Attributes(Layer(layers, "block.a/bias")));
        Assert.Equal([1, 8, 1, 1, 1], Dims(OutputPort(Layer(layers, "block.a.bias"))));
        Assert.Equal([("transpose_a", "false"), ("transpose_b", "true")], Attributes(Layer(layers, "head.fc2")));
        Assert.Equal([1, 5], Dims(OutputPort(Layer(layers, "fc2.bias"))));
        Assert.Equal([("keep_dims", "true")], Attributes(Layer(layers, "head.pool")));
        Assert.Equal([("special_zero", "false")], Attributes(Layer(layers, "head.flatten")));
        Assert.Null(Layer(layers, "block.swish").Element("data"));
        Assert.Equal("logits", (string?)OutputPort(Layer(layers, "head.fc2/bias")).Attribute("names"));
        Assert.Null(OutputPort(Layer(layers, "head.fc2")).Attribute("names"));

        var axes = Layer(layers, "head.pool/axes").Element("data")!;
        Assert.Equal("i64", (string?)axes.Attribute("element_type"));
        Assert.Equal([2L, 3, 4], MemoryMarshal.Cast<byte, long>(bin.AsSpan((int)axes.Attribute("offset")!, (int)axes.Attribute("size")!)).ToArray());

        var (quantizedXml, _) = IrWriter.Serialize(SampleGraphs.TinyX3D(quantized: true));
        var quantize = Layer(XDocument.Parse(quantizedXml).Root!.Element("layers")!.Elements("layer").ToList(), "stem.fq");
        Assert.Equal([("levels", "256"), ("auto_broadcast", "numpy")], Attributes(quantize));
        Assert.Equal(5, quantize.Element("input")!.Elements("port").Count());
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void WriteThenReadGivesTheSameGraph(bool quantized)
    {
        var graph = SampleGraphs.TinyX3D(quantized: quantized);
        string path = Path.Combine(directory, "model.xml");
        IrWriter.Write(graph, path);
        var read = IrReader.Read(path);

        Assert.Equal(graph.Name, read.Name);
        Assert.Equal(graph.Input.Name, read.Input.Name);
        Assert.Equal(graph.Input.Shape, read.Input.Shape);
        Assert.Equal(graph.Output, read.Output);
        Assert.Equal(graph.Metadata, read.Metadata);
        Assert.Equal(graph.Nodes.Select(Describe), read.Nodes.Select(Describe));
        Assert.Equal(graph.Constants.Select(constant => constant.Name).Order(), read.Constants.Select(constant => constant.Name).Order());
        var weights = graph.Nodes.OfType<FakeQuantizeNode>().Where(node => graph.IsConstant(node.Input)).ToList();
        var compressed = weights.SelectMany(node => node.Inputs).ToHashSet();
        foreach (var constant in graph.Constants)
        {
            var copy = read.Constant(constant.Name);
            Assert.Equal(constant.Shape, copy.Shape);
            if (!compressed.Contains(constant.Name))
                Assert.True(MemoryMarshal.AsBytes(constant.Data.AsSpan()).SequenceEqual(MemoryMarshal.AsBytes(copy.Data.AsSpan())), constant.Name);
        }
        // A compressed weight reads back as q · s behind the same FakeQuantize: the values it gives are bit for bit the same.
        foreach (var node in weights)
            Assert.Equal(FakeQuantized(graph, node), FakeQuantized(read, node));
    }

    [Fact]
    public void QuantizedWeightsAreCompressedAsPotWritesThem()
    {
        var graph = SampleGraphs.TinyX3D(quantized: true);
        var (xml, bin) = IrWriter.Serialize(graph);
        var net = XDocument.Parse(xml).Root!;
        var layers = net.Element("layers")!.Elements("layer").ToDictionary(layer => (int)layer.Attribute("id")!);
        var edges = net.Element("edges")!.Elements("edge").ToDictionary(
            edge => ((int)edge.Attribute("to-layer")!, (int)edge.Attribute("to-port")!), edge => layers[(int)edge.Attribute("from-layer")!]);
        XElement Source(XElement layer, int port) => edges[((int)layer.Attribute("id")!, port)];

        var products = layers.Values.Where(layer => Type(layer) is "Convolution" or "GroupConvolution" or "MatMul").ToList();
        int compressedCount = 0;
        foreach (var product in products)
        {
            var weight = Source(product, 1);
            Assert.NotEqual("FakeQuantize", Type(weight));
            if (Type(weight) != "Multiply")
                continue;
            compressedCount++;
            var convert = Source(weight, 0);
            var (values, scale) = (Source(convert, 0), Source(weight, 1));
            Assert.Equal("Convert", Type(convert));
            Assert.Equal([("destination_type", "f32")], Attributes(convert));
            Assert.Equal("i8", (string?)values.Element("data")!.Attribute("element_type"));
            Assert.Equal("f32", (string?)scale.Element("data")!.Attribute("element_type"));
            Assert.Equal("FakeQuantize", Type(Source(product, 0)));
            int[] weightDims = Dims(OutputPort(values)), scaleDims = Dims(OutputPort(scale));
            int perChannelAxes = Type(product) == "GroupConvolution" ? 2 : 1;
            Assert.Equal(weightDims.Select((d, axis) => axis < perChannelAxes ? d : 1), scaleDims);
            Assert.Equal(weightDims, Dims(product.Element("input")!.Elements("port").ElementAt(1)));
            var data = values.Element("data")!;
            var stored = MemoryMarshal.Cast<byte, sbyte>(bin.AsSpan((int)data.Attribute("offset")!, (int)data.Attribute("size")!)).ToArray();
            Assert.DoesNotContain((sbyte)-128, stored);
            Assert.Contains(stored, value => Math.Abs(value) == 127);
        }
        Assert.Equal(graph.Nodes.OfType<FakeQuantizeNode>().Count(node => graph.IsConstant(node.Input)), compressedCount);
        Assert.DoesNotContain(layers.Values, layer => Type(layer) == "Reshape" && Type(Source(layer, 0)) == "Multiply");
        Assert.True(bin.Length < IrWriter.Serialize(SampleGraphs.TinyX3D()).Bin.Length);
    }

    [Fact]
    public void ACompressedWeightOutsideInt8RangeIsRejected() =>
        AssertRejected(files =>
        {
            var net = XDocument.Load(files.Xml).Root!;
            var data = Layer(net, "block.a.weight").Element("data")!;
            var bytes = File.ReadAllBytes(files.Bin);
            bytes[(int)data.Attribute("offset")!] = 0x80;
            File.WriteAllBytes(files.Bin, bytes);
        }, "model.xml", @"layer \d+ 'block\.a\.weight' \(Const\)", "is -128", quantized: true);

    static float[] FakeQuantized(ModelGraph graph, FakeQuantizeNode node)
    {
        var (weight, low, high) = (graph.Constant(node.Input), graph.Constant(node.Low), graph.Constant(node.High));
        long per = weight.Length / low.Length;
        return [.. weight.Data.Select((w, i) => Kernels.Cpu.FakeQuantize.Apply(w, low.Data[i / per], high.Data[i / per], node.Levels))];
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void WriteReadWriteIsByteIdentical(bool quantized)
    {
        string path = Path.Combine(directory, "model.xml");
        IrWriter.Write(SampleGraphs.TinyX3D(quantized: quantized), path);
        var (xml, bin) = IrWriter.Serialize(IrReader.Read(path));
        Assert.Equal(File.ReadAllText(path), xml);
        Assert.Equal(File.ReadAllBytes(Path.ChangeExtension(path, ".bin")), bin);
    }

    [Fact]
    public void MetadataKeysThatAreNoElementNamesRoundTrip()
    {
        var sample = SampleGraphs.TinyX3D();
        var graph = new ModelGraph(sample.Name, sample.Input, sample.Output, sample.Nodes, sample.Constants,
            new Dictionary<string, string> { ["labels"] = "a b", ["pre processing"] = "mean=0.45\nstd=0.225", ["xmlish"] = "<&\">" });
        string path = Path.Combine(directory, "model.xml");
        IrWriter.Write(graph, path);
        Assert.Contains("<info name=\"pre processing\"", File.ReadAllText(path));
        Assert.Equal(graph.Metadata, IrReader.Read(path).Metadata);
    }

    [Fact]
    public void XmlThatIsNotWellFormedIsRejected() =>
        AssertRejected(files => File.WriteAllText(files.Xml, File.ReadAllText(files.Xml)[..200]), "model.xml", "", "not well-formed XML");

    [Fact]
    public void AnotherIrVersionIsRejected() =>
        AssertRejected(files => Edit(files.Xml, net => net.SetAttributeValue("version", "10")), "model.xml", "version=\"10\"", "IR v11");

    [Fact]
    public void AnUnknownLayerTypeIsRejected() =>
        AssertRejected(files => Edit(files.Xml, net => Layer(net, "block.swish").SetAttributeValue("type", "HSwish")),
            "model.xml", @"layer \d+ 'block\.swish' \(HSwish\)", "unknown layer type");

    [Fact]
    public void AnEdgeToAMissingLayerIsRejected() =>
        AssertRejected(files => Edit(files.Xml, net => net.Element("edges")!.Elements("edge").Last().SetAttributeValue("to-layer", "999")),
            "model.xml", @"edge \d+:\d+ -> 999:0", "no layer 999");

    [Fact]
    public void AConstPastTheEndOfTheBinIsRejected() =>
        AssertRejected(files => File.WriteAllBytes(files.Bin, File.ReadAllBytes(files.Bin)[..^8]), "model.xml", @"layer \d+ 'fc2\.bias' \(Const\)", $"past the end of {Path.Combine(directory, "model.bin")}");

    [Fact]
    public void AConstSmallerThanItsShapeIsRejected() =>
        AssertRejected(files => Edit(files.Xml, net => Layer(net, "stem.0.weight").Element("data")!.SetAttributeValue("size", "12")),
            "model.xml", @"layer \d+ 'stem\.0\.weight' \(Const\)", "size 12 is smaller than the 648 bytes");

    [Fact]
    public void AsymmetricPadsAreRejected() =>
        AssertRejected(files => Edit(files.Xml, net => Layer(net, "stem.conv_xy").Element("data")!.SetAttributeValue("pads_end", "0,0,0")),
            "model.xml", @"layer \d+ 'stem\.conv_xy' \(Convolution\)", "symmetric pads");

    [Fact]
    public void AFakeQuantizeWithAnotherOutputRangeIsRejected() =>
        AssertRejected(files => Edit(files.Xml, net => Layer(net, "stem.fq/output_high").Element("data")!.SetAttributeValue("offset", "0")),
            "model.xml", @"layer \d+ 'stem\.fq' \(FakeQuantize\)", "inputs 2 and 4 are not equal Consts", quantized: true);

    [Fact]
    public void AMissingBinIsRejected() =>
        AssertRejected(files => File.Delete(files.Bin), "model.bin", "of model\\.xml", "does not exist");

    [Fact]
    public void AMissingXmlIsRejected()
    {
        string xml = Path.Combine(directory, "absent.xml");
        var error = Assert.Throws<IrFormatException>(() => IrReader.Read(xml));
        Assert.Equal($"{xml}: the IR file does not exist", error.Message);
    }

    [Fact]
    public void ShapeInferenceGivesEveryShape()
    {
        var shapes = ShapeInference.Infer(SampleGraphs.TinyX3D(quantized: true));
        Assert.Equal([-1, 5], shapes["logits"]);
        Assert.Equal([-1, 3, 4, 9, 9], shapes["clips"]);
        Assert.Equal([-1, 6, 4, 5, 5], shapes["stem.xy"]);
        Assert.Equal([-1, 8, 4, 3, 3], shapes["block.b.conv"]);
        Assert.Equal([-1, 8, 1, 1, 1], shapes["block.se.scale"]);
        Assert.Equal([-1, 6], shapes["head.features"]);
        Assert.Equal([6, 1, 3, 1, 1], shapes["stem.1.weight.q"]);
    }

    [Theory]
    [InlineData("conv", "4 channels but weight [2, 3, 1, 1, 1]")]
    [InlineData("add", "do not broadcast")]
    [InlineData("reshape", "cannot reshape")]
    [InlineData("linear", "4 features but weight [2, 3]")]
    public void AShapeMismatchNamesTheNode(string broken, string problem)
    {
        var input = new GraphInput("x", [-1, 4, 2, 2, 2]);
        GraphConstant[] constants = [new("w", [2, 3, 1, 1, 1], new float[6]), new("b", [1, 3, 1, 1, 1], new float[3]), new("fc", [2, 3], new float[6])];
        GraphNode[] nodes = broken switch
        {
            "conv" => [new ConvNode("broken", "y", "x", "w", null, [1, 1, 1], [0, 0, 0], 1)],
            "add" => [new AddNode("broken", "y", "x", "b")],
            "reshape" => [new ReshapeNode("broken", "y", "x", [-1, 5])],
            _ => [new GlobalAveragePoolNode("pool", "p", "x"), new ReshapeNode("flatten", "f", "p", [-1, 4]), new LinearNode("broken", "y", "f", "fc", null)],
        };
        var error = Assert.Throws<InvalidDataException>(() => ShapeInference.Infer(new ModelGraph("g", input, "y", nodes, constants)));
        Assert.Contains("node 'broken'", error.Message);
        Assert.Contains(problem, error.Message);
    }

    void AssertRejected(Action<(string Xml, string Bin)> damage, string file, string wherePattern, string problem, bool quantized = false)
    {
        string xml = Path.Combine(directory, "model.xml");
        IrWriter.Write(SampleGraphs.TinyX3D(quantized: quantized), xml);
        damage((xml, Path.ChangeExtension(xml, ".bin")));
        var error = Assert.Throws<IrFormatException>(() => IrReader.Read(xml));
        Assert.StartsWith(Path.Combine(directory, file) + ": ", error.Message);
        Assert.Matches(wherePattern, error.Message);
        Assert.Contains(problem, error.Message);
    }

    static void Edit(string xmlPath, Action<XElement> edit)
    {
        var document = XDocument.Load(xmlPath);
        edit(document.Root!);
        document.Save(xmlPath);
    }

    static string? Type(XElement layer) => (string?)layer.Attribute("type");

    static XElement Layer(IEnumerable<XElement> layers, string name) => layers.Single(layer => (string?)layer.Attribute("name") == name);

    static XElement Layer(XElement net, string name) => Layer(net.Element("layers")!.Elements("layer"), name);

    static XElement OutputPort(XElement layer) => layer.Element("output")!.Element("port")!;

    static int[] Dims(XElement port) => [.. port.Elements("dim").Select(dim => (int)dim)];

    static (string, string)[] Attributes(XElement layer) =>
        [.. layer.Element("data")!.Attributes().Select(attribute => (attribute.Name.LocalName, attribute.Value))];

    /// <summary>A node's type and every property, arrays written out, so two graphs compare node by node.</summary>
    static string Describe(GraphNode node) =>
        node.GetType().Name + "(" + string.Join(", ", node.GetType().GetProperties().OrderBy(property => property.Name)
            .Select(property => property.Name + "=" + Text(property.GetValue(node)))) + ")";

    static string? Text(object? value) =>
        value is IEnumerable items and not string ? "[" + string.Join(", ", items.Cast<object>()) + "]" : value?.ToString();
}
