using System.Numerics.Tensors;
using ActionKit.Export.Graph;
using ActionKit.Kernels;
using ActionKit.Kernels.Cpu;

namespace ActionKit.Export.Runtime;

/// <summary>
/// Runs a <see cref="ModelGraph"/> on the CPU with the engine's kernels: ActionKit's own runtime for the models it
/// writes (an OpenVINO IR read back, a quantized graph with FakeQuantize) and the quantizer's statistics pass.
/// Values are kept channels-last, as the kernels want them; the input and the output are in the graph's N C ...
/// order. FakeQuantize on a constant (a quantized weight) is folded once, when the executor is built.
/// Not thread-safe: one Run at a time.
/// </summary>
public sealed unsafe class GraphExecutor
{
    readonly ModelGraph graph;
    readonly Dictionary<string, float[]> constants;
    readonly Dictionary<string, int[]> constantShapes;
    readonly Dictionary<string, int> lastUse = [];
    readonly Dictionary<string, Value> constantValues = [];

    public GraphExecutor(ModelGraph graph)
    {
        this.graph = graph;
        constants = graph.Constants.ToDictionary(c => c.Name, c => c.Data);
        constantShapes = graph.Constants.ToDictionary(c => c.Name, c => c.Shape);
        foreach (var node in graph.Nodes.OfType<FakeQuantizeNode>().Where(node => constants.ContainsKey(node.Input)))
        {
            var weight = constants[node.Input];
            var folded = new float[weight.Length];
            // A weight's ranges are per output channel (axis 0): [C, 1, ...], or [1] for the whole tensor.
            var low = constants[node.Low];
            var high = constants[node.High];
            int perRange = weight.Length / low.Length;
            for (int i = 0; i < weight.Length; i++)
                folded[i] = Kernels.Cpu.FakeQuantize.Apply(weight[i], low[i / perRange], high[i / perRange], node.Levels);
            constants[node.Output] = folded;
            constantShapes[node.Output] = constantShapes[node.Input];
        }
        for (int i = 0; i < graph.Nodes.Count; i++)
            foreach (var input in graph.Nodes[i].Inputs)
                lastUse[input] = i;
    }

    /// <summary>A value as the executor holds it: logical shape in N C ... order, data channels-last.</summary>
    public readonly record struct Value(int[] Shape, float[] Data)
    {
        public int Channels => Shape.Length >= 2 ? Shape[1] : 1;
        public long Positions => Shape.Length <= 2 ? 1 : Shape.Skip(2).Aggregate(1L, (a, b) => a * b);
    }

    /// <summary>
    /// Runs the graph on <paramref name="input"/> (the graph input's layout, e.g. [N, 1, 3, T, H, W], with the
    /// batch <paramref name="batch"/>) and returns the output [N, classes]. <paramref name="observe"/> sees the
    /// input and every value the graph computes, by name, as it is computed.
    /// </summary>
    public float[] Run(float[] input, int batch, Action<string, Value>? observe = null)
    {
        var shape = graph.Input.Shape.Select(d => d < 0 ? batch : d).ToArray();
        if (input.LongLength != Tensor(shape))
            throw new ArgumentException($"Graph '{graph.Name}' expects input {ShapeInference.Format(shape)} ({Tensor(shape)} values), got {input.LongLength}.");
        var values = new Dictionary<string, Value> { [graph.Input.Name] = new(shape, ToChannelsLast(input, shape)) };
        observe?.Invoke(graph.Input.Name, values[graph.Input.Name]);
        for (int i = 0; i < graph.Nodes.Count; i++)
        {
            var node = graph.Nodes[i];
            if (constants.ContainsKey(node.Output))
                continue;
            var output = Execute(node, name => values.TryGetValue(name, out var value) ? value : Constant(name));
            values[node.Output] = output;
            observe?.Invoke(node.Output, output);
            foreach (var name in node.Inputs.Where(name => lastUse[name] == i && name != graph.Output))
                values.Remove(name);
        }
        var result = values[graph.Output];
        return ToLogical(result.Data, result.Shape);
    }

    // A constant read as a value (a per-channel scale or shift) is laid out channels-last once, on its first read.
    Value Constant(string name) =>
        constantValues.TryGetValue(name, out var value) ? value
        : constantValues[name] = new(constantShapes[name], ToChannelsLast(constants[name], constantShapes[name]));

    Value Execute(GraphNode node, Func<string, Value> read)
    {
        try
        {
            return node switch
            {
                ConvNode conv => Convolution(conv, read(conv.Input)),
                AddNode add => Broadcast(read(add.A), read(add.B), multiply: false),
                MulNode mul => Broadcast(read(mul.A), read(mul.B), multiply: true),
                UnaryNode unary => Unary(unary.Function, read(unary.Input)),
                GlobalAveragePoolNode pool => GlobalAverage(read(pool.Input)),
                ReshapeNode reshape => Reshape(read(reshape.Input), reshape.Shape),
                LinearNode linear => Linear(linear, read(linear.Input)),
                FakeQuantizeNode quantize => FakeQuantize(quantize, read(quantize.Input)),
                _ => throw new NotSupportedException($"the executor has no {node.Op}"),
            };
        }
        catch (Exception error) when (error is ArgumentException or NotSupportedException)
        {
            throw new NotSupportedException($"Graph '{graph.Name}', node '{node.Name}' ({node.Op}): {error.Message}", error);
        }
    }

    Value Convolution(ConvNode node, Value x)
    {
        var weightShape = constantShapes[node.Weight];
        if (x.Shape.Length != 5 || weightShape.Length != 5)
            throw new ArgumentException($"needs a 5-D input and weight, got {ShapeInference.Format(x.Shape)} and {ShapeInference.Format(weightShape)}");
        int cin = x.Shape[1], cout = weightShape[0];
        if (weightShape[1] * node.Groups != cin)
            throw new ArgumentException($"weight {ShapeInference.Format(weightShape)} with {node.Groups} groups does not take {cin} input channels");
        var g = new ConvGeometry(x.Shape[0], x.Shape[2], x.Shape[3], x.Shape[4], cin, cout,
            weightShape[2], weightShape[3], weightShape[4], node.Strides[0], node.Strides[1], node.Strides[2],
            node.Pads[0], node.Pads[1], node.Pads[2]);
        g.Validate();
        var y = new float[g.OutputLength];
        var w = constants[node.Weight];
        fixed (float* output = y, input = x.Data, weight = w)
        {
            if (node.Groups == 1 && g.KernelVolume == 1 && g.PadDepth + g.PadHeight + g.PadWidth == 0 && g.StrideDepth == 1)
            {
                long rows = g.OutputLength / cout;
                if (g.StrideHeight == 1 && g.StrideWidth == 1)
                    Gemm.Multiply(output, input, weight, (int)rows, cout, cin, transposeA: false, transposeB: true, accumulate: false);
                else if (g.StrideHeight == g.StrideWidth)
                {
                    var sampled = new float[rows * cin];
                    fixed (float* s = sampled)
                    {
                        Subsample.Forward(s, input, g.Batch, g.InDepth, g.InHeight, g.InWidth, cin, g.StrideHeight);
                        Gemm.Multiply(output, s, weight, (int)rows, cout, cin, transposeA: false, transposeB: true, accumulate: false);
                    }
                }
                else
                    throw new NotSupportedException($"a 1x1x1 convolution with strides {ShapeInference.Format(node.Strides)}");
            }
            else if (node.Groups == 1)
                Conv3d.Forward(output, input, weight, g);
            else if (node.Groups == cin && cout == cin)
                DepthwiseConv3d.Forward(output, input, weight, g);
            else
                throw new NotSupportedException($"{node.Groups} groups over {cin} channels (only 1 or depthwise)");
            if (node.Bias is not null)
                fixed (float* bias = constants[node.Bias])
                    Bias.Forward(output, bias, g.OutputLength / cout, cout);
        }
        return new([g.Batch, cout, g.OutDepth, g.OutHeight, g.OutWidth], y);
    }

    /// <summary>a ∘ b where b equals a's shape, or is per channel ([1, C, 1...]) or per clip and channel ([N, C, 1...]; products only).</summary>
    static Value Broadcast(Value a, Value b, bool multiply)
    {
        if (Tensor(b.Shape) > Tensor(a.Shape))
            (a, b) = (b, a);
        var y = new float[a.Data.Length];
        int channels = a.Channels;
        bool perChannel = b.Shape.Length == a.Shape.Length && b.Shape[1] == channels && b.Shape.Skip(2).All(d => d == 1);
        fixed (float* py = y, pa = a.Data, pb = b.Data)
        {
            if (b.Shape.SequenceEqual(a.Shape) && !multiply)
                Elementwise.Add(py, pa, pb, y.LongLength, relu: false);
            else if (b.Shape.SequenceEqual(a.Shape))
            {
                float* ry = py, ra = pa, rb = pb;
                Elementwise.ForChunks(y.LongLength, (offset, count) =>
                    TensorPrimitives.Multiply(new ReadOnlySpan<float>(ra + offset, count), new ReadOnlySpan<float>(rb + offset, count), new Span<float>(ry + offset, count)));
            }
            else if (perChannel && multiply && (b.Shape[0] == 1 || b.Shape[0] == a.Shape[0]))
            {
                // A per-channel factor shared by all clips scales one "clip" of N·S positions.
                bool shared = b.Shape[0] == 1;
                ChannelScale.Forward(py, pa, pb, shared ? 1 : a.Shape[0], shared ? a.Shape[0] * a.Positions : a.Positions, channels, Activation.None);
            }
            else if (perChannel && b.Shape[0] == 1)
            {
                a.Data.CopyTo(y, 0);
                Bias.Forward(py, pb, y.LongLength / channels, channels);
            }
            else
                throw new NotSupportedException($"{(multiply ? "multiplying" : "adding")} {ShapeInference.Format(b.Shape)} onto {ShapeInference.Format(a.Shape)}");
        }
        return new(a.Shape, y);
    }

    static Value Unary(UnaryOp function, Value x)
    {
        var y = new float[x.Data.Length];
        fixed (float* px = x.Data, py = y)
        {
            float* rx = px, ry = py;
            switch (function)
            {
                case UnaryOp.Relu:
                    Elementwise.Relu(ry, rx, y.Length);
                    break;
                case UnaryOp.Sigmoid:
                    Elementwise.Sigmoid(ry, rx, y.Length);
                    break;
                case UnaryOp.Swish:
                    Elementwise.Swish(ry, rx, y.Length);
                    break;
            }
        }
        return new(x.Shape, y);
    }

    static Value GlobalAverage(Value x)
    {
        if (x.Shape.Length < 3)
            throw new ArgumentException($"needs N, C and spatial axes, got {ShapeInference.Format(x.Shape)}");
        var y = new float[x.Shape[0] * x.Channels];
        fixed (float* py = y, px = x.Data)
            Kernels.Cpu.GlobalAveragePool.Forward(py, px, x.Shape[0], x.Positions, x.Channels);
        var shape = x.Shape.Select((d, axis) => axis < 2 ? d : 1).ToArray();
        return new(shape, y);
    }

    static Value Reshape(Value x, int[] target)
    {
        long known = target.Where(d => d >= 0).Aggregate(1L, (a, b) => a * b);
        var shape = target.Select(d => d >= 0 ? d : (int)(Tensor(x.Shape) / known)).ToArray();
        if (Tensor(shape) != Tensor(x.Shape))
            throw new ArgumentException($"cannot reshape {ShapeInference.Format(x.Shape)} to {ShapeInference.Format(target)}");
        return new(shape, ToChannelsLast(ToLogical(x.Data, x.Shape), shape));
    }

    Value Linear(LinearNode node, Value x)
    {
        var weightShape = constantShapes[node.Weight];
        if (x.Shape.Length != 2 || weightShape.Length != 2 || weightShape[1] != x.Shape[1])
            throw new ArgumentException($"input {ShapeInference.Format(x.Shape)} does not fit weight {ShapeInference.Format(weightShape)}");
        int rows = x.Shape[0], outputs = weightShape[0];
        var y = new float[rows * outputs];
        fixed (float* output = y, input = x.Data, weight = constants[node.Weight])
        {
            Gemm.Multiply(output, input, weight, rows, outputs, x.Shape[1], transposeA: false, transposeB: true, accumulate: false);
            if (node.Bias is not null)
                fixed (float* bias = constants[node.Bias])
                    Bias.Forward(output, bias, rows, outputs);
        }
        return new([rows, outputs], y);
    }

    /// <summary>An activation's FakeQuantize: ranges per tensor ([1]) or per channel ([1, C, 1, ...]).</summary>
    Value FakeQuantize(FakeQuantizeNode node, Value x)
    {
        var low = constants[node.Low];
        var high = constants[node.High];
        if (low.Length != high.Length)
            throw new ArgumentException($"input_low has {low.Length} values but input_high {high.Length}");
        var y = new float[x.Data.Length];
        fixed (float* py = y, px = x.Data, pLow = low, pHigh = high)
            Kernels.Cpu.FakeQuantize.Forward(py, px, pLow, pHigh, low.Length, x.Channels, y.LongLength, node.Levels);
        return new(x.Shape, y);
    }

    /// <summary>N C D H W (or any N C ...) order to channels-last N D H W C; ranks below 3 are unchanged.</summary>
    public static float[] ToChannelsLast(ReadOnlySpan<float> logical, int[] shape) => Transpose(logical, shape, toChannelsLast: true);

    /// <summary>The inverse of <see cref="ToChannelsLast"/>.</summary>
    public static float[] ToLogical(ReadOnlySpan<float> channelsLast, int[] shape) => Transpose(channelsLast, shape, toChannelsLast: false);

    /// <summary>A new array holding <paramref name="source"/> in the other layout (a copy for ranks below 3, where both agree).</summary>
    static float[] Transpose(ReadOnlySpan<float> source, int[] shape, bool toChannelsLast)
    {
        if (shape.Length < 3)
            return source.ToArray();
        int batch = shape[0], channels = shape[1];
        // A span holds at most int.MaxValue elements, so int indices reach them all.
        int positions = source.Length / batch / channels;
        var result = new float[source.Length];
        for (int n = 0; n < batch; n++)
            for (int c = 0; c < channels; c++)
                for (int s = 0; s < positions; s++)
                {
                    int logical = (n * channels + c) * positions + s, last = (n * positions + s) * channels + c;
                    if (toChannelsLast)
                        result[last] = source[logical];
                    else
                        result[logical] = source[last];
                }
        return result;
    }

    static long Tensor(int[] shape) => shape.Aggregate(1L, (a, b) => a * b);

}
