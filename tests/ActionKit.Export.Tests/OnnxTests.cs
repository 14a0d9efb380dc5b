using ActionKit.Export.Graph;
using ActionKit.Export.Onnx;
using ActionKit.Export.Onnx.Proto;
using Xunit.Abstractions;
using DataType = ActionKit.Export.Onnx.Proto.TensorProto.Types.DataType;

namespace ActionKit.Export.Tests;

public sealed class OnnxTests(ITestOutputHelper output) : IDisposable
{
    readonly string directory = Directory.CreateTempSubdirectory("actionkit-onnx-tests-").FullName;

    public void Dispose() => Directory.Delete(directory, recursive: true);

    [Fact]
    public void TheSerializedModelParsesBackWithHeaderInputOutputAndOps()
    {
        var graph = SampleGraphs.TinyX3D();
        var model = ModelProto.Parser.ParseFrom(OnnxWriter.Serialize(graph));

        Assert.Equal(8, model.IrVersion);
        Assert.Equal("ActionKit", model.ProducerName);
        var opset = Assert.Single(model.OpsetImport);
        Assert.Equal(("", 17L), (opset.Domain, opset.Version));
        Assert.Equal("a b c d e", Assert.Single(model.MetadataProps, p => p.Key == "labels").Value);

        var input = Assert.Single(model.Graph.Input);
        Assert.Equal("data", input.Name);
        Assert.Equal((int)DataType.Float, input.Type.TensorType.ElemType);
        Assert.Equal(["N", "1", "3", "4", "9", "9"], input.Type.TensorType.Shape.Dim.Select(Dimension));
        var logits = Assert.Single(model.Graph.Output);
        Assert.Equal("logits", logits.Name);
        Assert.Equal(["N", "5"], logits.Type.TensorType.Shape.Dim.Select(Dimension));

        Assert.Equal(["Reshape", "Mul", "Add", "Conv", "Conv", "Relu", "Conv", "Relu", "Conv", "GlobalAveragePool", "Conv", "Relu",
            "Conv", "Sigmoid", "Mul", "Sigmoid", "Mul", "Conv", "Conv", "Add", "Relu", "GlobalAveragePool", "Reshape", "Gemm", "Relu", "Gemm"],
            model.Graph.Node.Select(node => node.OpType));
        var stemT = model.Graph.Node.Single(node => node.Name == "stem.conv_t");
        Assert.Equal([3, 1, 1], Attribute(stemT, "kernel_shape").Ints);
        Assert.Equal([1, 0, 0, 1, 0, 0], Attribute(stemT, "pads").Ints);
        Assert.Equal(6, Attribute(stemT, "group").I);

        var weight = model.Graph.Initializer.Single(t => t.Name == "stem.0.weight");
        Assert.Equal((int)DataType.Float, weight.DataType);
        Assert.Equal([6, 3, 1, 3, 3], weight.Dims);
        Assert.Equal(graph.Constant("stem.0.weight").Data, FloatsOf(weight));
    }

    [Fact]
    public void TheQuantizedModelHasInt8WeightsAndNoFloatCopiesOrRanges()
    {
        var graph = SampleGraphs.TinyX3D(quantized: true);
        var model = ModelProto.Parser.ParseFrom(OnnxWriter.Serialize(graph));
        var initializers = model.Graph.Initializer.ToDictionary(t => t.Name);

        Assert.DoesNotContain(initializers.Keys, name => name.EndsWith(".fq_low") || name.EndsWith(".fq_high") || name == "stem.0.weight");
        Assert.Equal((int)DataType.Float, initializers["fc2.weight"].DataType);
        var stem = initializers["stem.0.weight.fq/int8"];
        Assert.Equal((int)DataType.Int8, stem.DataType);
        Assert.Equal([6, 3, 1, 3, 3], stem.Dims);
        // Each channel's range is its largest |w|, so that weight lands on ±127.
        var q = stem.RawData.Select(b => (int)(sbyte)b).ToArray();
        Assert.All(q.Chunk(27), channel => Assert.Equal(127, channel.Max(Math.Abs)));
        Assert.Equal([6], initializers["stem.0.weight.fq/scale"].Dims);
        Assert.Equal([7], initializers["fc1.weight.fq/scale"].Dims);
        Assert.Equal((int)DataType.Int8, initializers["normalized.fq/zero_point"].DataType);
        Assert.Equal((int)DataType.Uint8, initializers["stem.fq/zero_point"].DataType);
        Assert.Empty(initializers["stem.fq/scale"].Dims);

        var dequantize = model.Graph.Node.Single(node => node.Name == "stem.0.weight.fq");
        Assert.Equal("DequantizeLinear", dequantize.OpType);
        Assert.Equal(0, Attribute(dequantize, "axis").I);
        Assert.Equal(6, model.Graph.Node.Count(node => node.OpType == "QuantizeLinear"));
        Assert.Equal(6 + 7, model.Graph.Node.Count(node => node.OpType == "DequantizeLinear"));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void OnnxRuntimeRunsTinyX3DOnABatchOfTwo(bool quantized)
    {
        string path = Save(SampleGraphs.TinyX3D(quantized: quantized));
        using var runner = new OnnxRunner(path, threads: 1);
        Assert.Equal(("data", "logits"), (runner.InputName, runner.OutputName));
        Assert.Equal([-1, 1, 3, 4, 9, 9], runner.InputShape);

        // A random clip, then a dark one: two random clips average to nearly the same logits, equal once quantized.
        var random = new Random(3);
        int clip = 3 * 4 * 9 * 9;
        var pixels = Enumerable.Range(0, 2 * clip).Select(i => (float)random.Next(i < clip ? 256 : 32)).ToArray();
        var logits = runner.Run(pixels, [2, 1, 3, 4, 9, 9]);

        Assert.Equal(2 * 5, logits.Length);
        Assert.All(logits, value => Assert.True(float.IsFinite(value)));
        Assert.NotEqual(logits[..5], logits[5..]);
    }

    [Fact]
    public void ConvWithStridesPadsGroupsAndBiasMatchesNestedLoops()
    {
        var random = new Random(5);
        var weight = new GraphConstant("w", [6, 2, 3, 3, 2], Values(random, 6 * 2 * 3 * 3 * 2));
        var bias = new GraphConstant("b", [6], Values(random, 6));
        int[] shape = [2, 4, 5, 6, 7], strides = [2, 1, 2], pads = [1, 1, 0];
        var graph = new ModelGraph("conv", new GraphInput("x", [-1, 4, 5, 6, 7]), "y",
            [new ConvNode("conv", "y", "x", "w", "b", strides, pads, Groups: 2)], [weight, bias]);
        var x = Values(random, 2 * 4 * 5 * 6 * 7);

        AssertClose(Conv(x, shape, weight, bias.Data, strides, pads, groups: 2), RunOrt(graph, x, shape));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void AQuantizedWeightConvMatchesTheFakeQuantizedWeights(bool perChannel)
    {
        var random = new Random(6);
        var weight = new GraphConstant("w", [6, 2, 1, 3, 3], Values(random, 6 * 2 * 9));
        var high = perChannel
            ? Enumerable.Range(0, 6).Select(o => weight.Data.Skip(o * 18).Take(18).Max(MathF.Abs)).ToArray()
            : [0.8f * weight.Data.Max(MathF.Abs)];
        int[] rangeShape = perChannel ? [6, 1, 1, 1, 1] : [1];
        var graph = new ModelGraph("qconv", new GraphInput("x", [-1, 4, 3, 5, 5]), "y",
            [new FakeQuantizeNode("fq", "wq", "w", "low", "high", 255), new ConvNode("conv", "y", "x", "wq", null, [1, 2, 2], [0, 1, 1], 2)],
            [weight, new GraphConstant("low", rangeShape, [.. high.Select(h => -h)]), new GraphConstant("high", (int[])rangeShape.Clone(), high)]);
        float High(int i) => high[perChannel ? i / 18 : 0];
        var fakeQuantized = weight with { Data = [.. weight.Data.Select((w, i) => FakeQuantize(w, -High(i), High(i), 255))] };
        int[] shape = [1, 4, 3, 5, 5];
        var x = Values(random, 4 * 3 * 5 * 5);

        AssertClose(Conv(x, shape, fakeQuantized, null, [1, 2, 2], [0, 1, 1], groups: 2), RunOrt(graph, x, shape));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void GemmMatchesTheMatrixProduct(bool quantizedWeight)
    {
        var random = new Random(7);
        var weight = new GraphConstant("w", [3, 4], Values(random, 12));
        var high = weight.Data.Chunk(4).Select(row => row.Max(MathF.Abs)).ToArray();
        List<GraphNode> nodes = quantizedWeight ? [new FakeQuantizeNode("fq", "wq", "w", "low", "high", 255)] : [];
        nodes.Add(new LinearNode("fc", "y", "x", quantizedWeight ? "wq" : "w", "b"));
        var graph = new ModelGraph("gemm", new GraphInput("x", [-1, 4]), "y", nodes,
            [weight, new GraphConstant("b", [3], Values(random, 3)),
             new GraphConstant("low", [3, 1], [.. high.Select(h => -h)]), new GraphConstant("high", [3, 1], high)]);
        var w = quantizedWeight ? [.. weight.Data.Select((v, i) => FakeQuantize(v, -high[i / 4], high[i / 4], 255))] : weight.Data;
        var x = Values(random, 5 * 4);

        var expected = new float[5 * 3];
        for (int n = 0; n < 5; n++)
            for (int o = 0; o < 3; o++)
            {
                double sum = graph.Constant("b").Data[o];
                for (int i = 0; i < 4; i++)
                    sum += x[n * 4 + i] * w[o * 4 + i];
                expected[n * 3 + o] = (float)sum;
            }
        AssertClose(expected, RunOrt(graph, x, [5, 4]));
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(true, true)]
    public void ActivationQdqMatchesTheFakeQuantizeFormula(bool signed, bool perChannel)
    {
        var random = new Random(8);
        var high = perChannel ? [1.5f, 0.25f, 3f] : new[] { 2f };
        var low = high.Select(h => signed ? -h * 128 / 127 : 0).ToArray();
        int[] rangeShape = perChannel ? [1, 3, 1, 1, 1] : [1];
        var graph = new ModelGraph("qdq", new GraphInput("x", [-1, 3, 2, 3, 3]), "y",
            [new FakeQuantizeNode("fq", "y", "x", "low", "high", 256)],
            [new GraphConstant("low", rangeShape, low), new GraphConstant("high", (int[])rangeShape.Clone(), high)]);
        int[] shape = [2, 3, 2, 3, 3];
        // Beyond the range on both sides, to check the clamping too.
        var x = Values(random, 2 * 3 * 18, scale: 4);

        int Channel(int i) => perChannel ? i / 18 % 3 : 0;
        var expected = x.Select((v, i) => FakeQuantize(v, low[Channel(i)], high[Channel(i)], 256)).ToArray();
        AssertClose(expected, RunOrt(graph, x, shape));
    }

    [Fact]
    public void SwishPoolAndReshapeMatchTheirDefinitions()
    {
        var random = new Random(9);
        var graph = new ModelGraph("swish", new GraphInput("x", [-1, 2, 2, 3, 3]), "y",
            [new UnaryNode("swish", "s", UnaryOp.Swish, "x"), new GlobalAveragePoolNode("pool", "p", "s"), new ReshapeNode("flatten", "y", "p", [-1, 2])], []);
        var x = Values(random, 2 * 2 * 18, scale: 3);

        var expected = x.Chunk(18).Select(channel => channel.Average(v => v / (1 + Math.Exp(-v)))).Select(v => (float)v).ToArray();
        AssertClose(expected, RunOrt(graph, x, [2, 2, 2, 3, 3]));
    }

    public static TheoryData<string, bool, float, float, int[], int> UnsupportedFakeQuantizes => new()
    {
        { "16 levels", false, 0, 1, [1], 16 },
        { "asymmetric activation", false, -1, 2, [1], 256 },
        { "256-level weight", true, -1, 1, [1], 256 },
        { "asymmetric weight", true, -0.5f, 1, [1], 255 },
        { "weight range per input channel", true, -1, 1, [1, 2, 1, 1, 1], 255 },
        { "zero range", false, 0, 0, [1], 256 },
    };

    [Theory]
    [MemberData(nameof(UnsupportedFakeQuantizes))]
    public void AnUnsupportedFakeQuantizeThrowsNamingTheNode(string form, bool onWeight, float low, float high, int[] rangeShape, int levels)
    {
        int count = rangeShape.Aggregate(1, (a, b) => a * b);
        var graph = new ModelGraph(form, new GraphInput("x", [-1, 2, 1, 1, 1]), "y",
            [new FakeQuantizeNode("odd_fq", "q", onWeight ? "w" : "x", "low", "high", levels),
             new ConvNode("conv", "y", "x", onWeight ? "q" : "w", null, [1, 1, 1], [0, 0, 0], 1)],
            [new GraphConstant("w", [3, 2, 1, 1, 1], Values(new Random(1), 6)),
             new GraphConstant("low", rangeShape, [.. Enumerable.Repeat(low, count)]), new GraphConstant("high", rangeShape, [.. Enumerable.Repeat(high, count)])]);

        var error = Assert.Throws<NotSupportedException>(() => OnnxWriter.Serialize(graph));
        Assert.Contains("'odd_fq'", error.Message);
        output.WriteLine($"{form}: {error.Message}");
    }

    [Fact]
    public void ARangeComputedAtRunTimeIsUnsupported()
    {
        var graph = new ModelGraph("dynamic", new GraphInput("x", [-1, 2]), "y",
            [new UnaryNode("relu", "r", UnaryOp.Relu, "x"), new FakeQuantizeNode("dynamic_fq", "y", "x", "r", "r", 256)], []);
        Assert.Contains("'dynamic_fq'", Assert.Throws<NotSupportedException>(() => OnnxWriter.Serialize(graph)).Message);
    }

    [Fact]
    public void AMissingModelFileIsAnErrorNamingIt()
    {
        string path = Path.Combine(directory, "absent.onnx");
        var error = Assert.Throws<InvalidDataException>(() => new OnnxRunner(path));
        Assert.Contains(path, error.Message);
    }

    [Fact]
    public void ACorruptModelFileIsAnErrorNamingItAndOrtsReason()
    {
        string path = Path.Combine(directory, "corrupt.onnx");
        File.WriteAllBytes(path, [.. OnnxWriter.Serialize(SampleGraphs.TinyX3D()).Take(300)]);
        var error = Assert.Throws<InvalidDataException>(() => new OnnxRunner(path));
        Assert.Contains(path, error.Message);
        Assert.Contains("ONNX Runtime refuses it", error.Message);
        output.WriteLine(error.Message);
    }

    [Fact]
    public void OnnxRuntimeRunsTheQuantizedConvolutionsWithInt8Kernels()
    {
        var ops = OnnxRunner.OptimizedOpTypes(Save(SampleGraphs.TinyX3D(quantized: true)));
        output.WriteLine(string.Join(", ", ops.GroupBy(op => op).Select(group => $"{group.Key} ×{group.Count()}")));
        Assert.Contains("com.microsoft:QLinearConv", ops);
    }

    [Theory]
    [InlineData(false, 1e-4)]
    [InlineData(true, 2e-2)]
    public void ActionKitsExecutorAndOnnxRuntimeAgreeOnTinyX3D(bool quantized, double tolerance)
    {
        var graph = SampleGraphs.TinyX3D(seed: 7, quantized: quantized);
        var random = new Random(3);
        var input = Enumerable.Range(0, 3 * 3 * 4 * 9 * 9).Select(_ => (float)random.Next(256)).ToArray();
        var expected = new ActionKit.Export.Runtime.GraphExecutor(graph).Run(input, batch: 3);
        var actual = RunOrt(graph, input, [3, 1, 3, 4, 9, 9]);
        double scale = expected.Max(Math.Abs), worst = expected.Select((e, i) => Math.Abs(actual[i] - e)).Max();
        // Quantized: ORT's int8 kernels requantize in their own order, so an activation may land one level apart.
        Assert.True(worst <= tolerance * scale, $"worst |executor - ORT| {worst:g3} against logits up to {scale:g3}");
    }

    string Save(ModelGraph graph)
    {
        string path = Path.Combine(directory, graph.Name + ".onnx");
        OnnxWriter.Write(graph, path);
        return path;
    }

    float[] RunOrt(ModelGraph graph, float[] input, int[] shape)
    {
        using var runner = new OnnxRunner(Save(graph), threads: 1);
        return runner.Run(input, shape);
    }

    /// <summary>OpenVINO's FakeQuantize as ActionKit's reference executor computes it.</summary>
    static float FakeQuantize(float x, float low, float high, int levels)
    {
        float s = (high - low) / (levels - 1);
        float qmin = MathF.Round(low / s), qmax = MathF.Round(high / s);
        return Math.Clamp(MathF.Round(x / s, MidpointRounding.ToEven), qmin, qmax) * s;
    }

    /// <summary>Plain 3-D convolution; x is (N, Cin, D, H, W), weight (Cout, Cin/groups, kD, kH, kW), symmetric pads.</summary>
    static float[] Conv(float[] x, int[] shape, GraphConstant weight, float[]? bias, int[] strides, int[] pads, int groups)
    {
        int n = shape[0], cin = shape[1];
        int[] size = shape[2..], kernel = weight.Shape[2..];
        int cout = weight.Shape[0], perGroupIn = cin / groups, perGroupOut = cout / groups;
        var o = Enumerable.Range(0, 3).Select(a => (size[a] + 2 * pads[a] - kernel[a]) / strides[a] + 1).ToArray();
        var y = new float[n * cout * o[0] * o[1] * o[2]];
        int index = 0;
        for (int b = 0; b < n; b++)
            for (int oc = 0; oc < cout; oc++)
                for (int od = 0; od < o[0]; od++)
                    for (int oh = 0; oh < o[1]; oh++)
                        for (int ow = 0; ow < o[2]; ow++)
                        {
                            double sum = bias?[oc] ?? 0;
                            for (int ic = 0; ic < perGroupIn; ic++)
                                for (int kd = 0; kd < kernel[0]; kd++)
                                    for (int kh = 0; kh < kernel[1]; kh++)
                                        for (int kw = 0; kw < kernel[2]; kw++)
                                        {
                                            int d = od * strides[0] - pads[0] + kd, h = oh * strides[1] - pads[1] + kh, w = ow * strides[2] - pads[2] + kw;
                                            if (d < 0 || d >= size[0] || h < 0 || h >= size[1] || w < 0 || w >= size[2])
                                                continue;
                                            int c = oc / perGroupOut * perGroupIn + ic;
                                            sum += x[(((b * cin + c) * size[0] + d) * size[1] + h) * size[2] + w]
                                                * weight.Data[(((oc * perGroupIn + ic) * kernel[0] + kd) * kernel[1] + kh) * kernel[2] + kw];
                                        }
                            y[index++] = (float)sum;
                        }
        return y;
    }

    /// <summary>Equal to 1e-5 relative (absolute below 1); a failure names the worst element.</summary>
    static void AssertClose(float[] expected, float[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        var errors = expected.Select((e, i) => Math.Abs(actual[i] - e) / Math.Max(1, Math.Abs(e))).ToArray();
        int worst = Array.IndexOf(errors, errors.Max());
        Assert.True(errors[worst] <= 1e-5, $"element {worst}: expected {expected[worst]}, ONNX Runtime gave {actual[worst]} (error {errors[worst]:g3})");
    }

    static float[] Values(Random random, int count, double scale = 1) =>
        [.. Enumerable.Range(0, count).Select(_ => (float)(scale * (2 * random.NextDouble() - 1)))];

    static string Dimension(TensorShapeProto.Types.Dimension dimension) =>
        dimension.HasDimParam ? dimension.DimParam : dimension.DimValue.ToString();

    static AttributeProto Attribute(NodeProto node, string name) => node.Attribute.Single(attribute => attribute.Name == name);

    static float[] FloatsOf(TensorProto tensor) =>
        [.. tensor.RawData.ToByteArray().Chunk(sizeof(float)).Select(bytes => BitConverter.ToSingle(bytes))];
}
