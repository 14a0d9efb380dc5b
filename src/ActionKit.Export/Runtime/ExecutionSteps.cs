using System.Numerics.Tensors;
using ActionKit.Export.Graph;
using ActionKit.Kernels;
using ActionKit.Kernels.Cpu;

namespace ActionKit.Export.Runtime;

/// <summary>One kernel call of a compiled graph: it reads <see cref="Inputs"/> and writes <see cref="Output"/>.</summary>
abstract class ExecutionStep(string name, string output)
{
    /// <summary>The graph node it runs (the first, when it fuses several).</summary>
    public string Name { get; } = name;

    public string Output { get; } = output;

    public abstract IReadOnlyList<string> Inputs { get; }

    /// <summary>The value whose floats the output reuses unchanged (a Reshape that keeps the channels-last data), if any.</summary>
    public virtual string? AliasOf => null;

    /// <summary>Whether the output lies on an 8-bit grid, so that the step can store it as codes.</summary>
    public virtual bool CanStoreCodes => false;

    /// <summary>Whether the output is stored as 8-bit codes (bytes) rather than floats; <see cref="StepCompiler"/> sets it.</summary>
    public bool StoresCodes { get; set; }

    /// <summary>Floats of working memory the step needs while it runs.</summary>
    public virtual long ScratchLength(ExecutionPlan plan) => 0;

    /// <summary>What kind of work the step does, for profiles ("depthwise conv", "int8 pointwise conv", "add", ...).</summary>
    public virtual string Kind(ExecutionPlan plan) => GetType().Name.Replace("Step", "").ToLowerInvariant();

    public abstract void Run(ExecutionPlan plan);
}

/// <summary>Turns graph nodes into steps, fusing each node with the activation or per-channel shift that alone reads it.</summary>
static class StepCompiler
{
    /// <summary>
    /// The steps of <paramref name="graph"/>: one per node, or fused; with <paramref name="integer"/>, quantized pointwise and depthwise
    /// convolutions as <see cref="Int8ConvStep"/>s, and <paramref name="notices"/> says which quantized ones stay float and why.
    /// </summary>
    public static IReadOnlyList<ExecutionStep> Compile(ModelGraph graph, ExecutionContext context, bool fuse, bool integer, List<string> notices)
    {
        var quantizers = graph.Nodes.OfType<FakeQuantizeNode>().ToDictionary(node => node.Output);
        var readers = new Dictionary<string, List<GraphNode>>();
        foreach (var node in graph.Nodes)
            foreach (var input in node.Inputs)
                (readers.TryGetValue(input, out var list) ? list : readers[input] = []).Add(node);
        var absorbed = new HashSet<GraphNode>();
        // The node that alone reads a value (not the graph's output), when fusing.
        GraphNode? OnlyReader(string value) =>
            fuse && value != graph.Output && readers.GetValueOrDefault(value) is [var only] ? only : null;
        (Activation, string) Activated(string value, bool swish)
        {
            if (OnlyReader(value) is UnaryNode { Function: UnaryOp.Relu or UnaryOp.Swish } unary && (swish || unary.Function == UnaryOp.Relu))
            {
                absorbed.Add(unary);
                return (unary.Function == UnaryOp.Relu ? Activation.Relu : Activation.Swish, unary.Output);
            }
            return (Activation.None, value);
        }

        // A per-channel product whose full-size side is a per-tensor FakeQuantize's output that only it reads (the
        // squeeze-excitation gate of a quantized graph): that FakeQuantize, the product and what follows go in one pass.
        (FakeQuantizeNode Input, string Scale)? QuantizedGate(MulNode mul)
        {
            var (full, scale) = context.Shapes[mul.A].SequenceEqual(context.Shapes[mul.B]) ? (null, null)
                : context.Shapes[mul.A].Skip(2).All(d => d == 1) ? (mul.B, mul.A) : (mul.A, mul.B);
            return full is not null && quantizers.TryGetValue(full, out var quantizer) && quantizer.Levels == 256 && OnlyReader(full) == mul
                && !context.IsConstant(quantizer.Input) && QuantizerGrid.Of(context, quantizer).Step > 0 && context.Shapes[scale!].Skip(2).All(d => d == 1)
                ? (quantizer, scale!)
                : null;
        }

        // The grid of a value that a per-tensor 256-level FakeQuantize made (a residual join's input in a quantized graph).
        QuantizerGrid? QuantizedInput(string value) =>
            quantizers.TryGetValue(value, out var quantizer) && quantizer.Levels == 256 && QuantizerGrid.Of(context, quantizer) is { Step: > 0 } grid
                ? grid
                : null;

        var steps = new List<ExecutionStep>();
        foreach (var node in graph.Nodes)
        {
            if (absorbed.Contains(node) || context.IsConstant(node.Output))
                continue;
            switch (node)
            {
                case ConvNode conv:
                    {
                        var (activation, output) = Activated(conv.Output, swish: true);
                        string why = "";
                        var outputQuantizer = OnlyReader(output) as FakeQuantizeNode;
                        if (integer && Int8ConvStep.TryCreate(graph, context, conv, quantizers,
                            quantizer => absorbed.Contains(quantizer) ? quantizer.Output : quantizer.Input, activation, outputQuantizer, output, out why) is { } int8)
                        {
                            if (int8.Output == outputQuantizer?.Output)
                                absorbed.Add(outputQuantizer);
                            steps.Add(int8);
                        }
                        else
                        {
                            if (why.Length > 0)
                                notices.Add($"layer '{conv.Name}': {why}");
                            steps.Add(new ConvStep(conv, activation, output));
                        }
                        break;
                    }
                case MulNode or AddNode when node.Inputs.Count(context.IsConstant) == 1:
                    {
                        string input = node.Inputs.Single(value => !context.IsConstant(value));
                        string constant = node.Inputs.Single(context.IsConstant);
                        string? scale = node is MulNode ? constant : null, shift = node is AddNode ? constant : null;
                        string output = node.Output;
                        if (scale is not null && OnlyReader(output) is AddNode add && add.Inputs.Count(context.IsConstant) == 1)
                        {
                            absorbed.Add(add);
                            shift = add.Inputs.Single(context.IsConstant);
                            output = add.Output;
                        }
                        var (activation, activated) = Activated(output, swish: true);
                        steps.Add(new AffineStep(node.Name, input, scale, shift, activation, activated));
                        break;
                    }
                case AddNode add when integer && QuantizedInput(add.A) is { } a && QuantizedInput(add.B) is { } b:
                    {
                        var (activation, output) = Activated(add.Output, swish: false);
                        var outputGrid = OnlyReader(output) is FakeQuantizeNode quantizer ? QuantizerGrid.Of(context, quantizer) : default;
                        if (outputGrid.Step > 0)
                        {
                            absorbed.Add(OnlyReader(output)!);
                            output = OnlyReader(output)!.Output;
                        }
                        steps.Add(new QuantizedAddStep(add.Name, add.A, a, add.B, b, activation, outputGrid, output));
                        break;
                    }
                case AddNode add:
                    {
                        var (activation, output) = Activated(add.Output, swish: false);
                        steps.Add(new BinaryStep(add.Name, add.A, add.B, multiply: false, activation, output));
                        break;
                    }
                case MulNode mul when integer && QuantizedGate(mul) is { } gate:
                    {
                        var (activation, output) = Activated(mul.Output, swish: true);
                        var outputGrid = OnlyReader(output) is FakeQuantizeNode quantizer ? QuantizerGrid.Of(context, quantizer) : default;
                        if (outputGrid.Step > 0)
                        {
                            absorbed.Add(OnlyReader(output)!);
                            output = OnlyReader(output)!.Output;
                        }
                        steps.Add(new QuantizedScaleStep(mul.Name, gate.Input.Input, QuantizerGrid.Of(context, gate.Input), gate.Scale, activation, outputGrid, output));
                        break;
                    }
                case MulNode mul:
                    {
                        // Only a per-channel product has its activation fused (ChannelScale); a full one is TensorPrimitives.
                        bool perChannel = !context.Shapes[mul.A].SequenceEqual(context.Shapes[mul.B]);
                        var (activation, output) = perChannel ? Activated(mul.Output, swish: true) : (Activation.None, mul.Output);
                        steps.Add(new BinaryStep(mul.Name, mul.A, mul.B, multiply: true, activation, output));
                        break;
                    }
                case UnaryNode unary:
                    steps.Add(new UnaryStep(unary));
                    break;
                case GlobalAveragePoolNode pool:
                    {
                        var step = new PoolStep(pool);
                        // The squeeze-excitation pool of an integer depthwise convolution's float output: from its row sums.
                        if (integer && steps.LastOrDefault(previous => previous.Output == pool.Input) is Int8ConvStep { TakesRowSums: true, RowSumsFor: null } depthwise
                            && context.Shapes[pool.Input].Length == 5)
                        {
                            depthwise.RowSumsFor = step;
                            step.FromRowSums = true;
                        }
                        steps.Add(step);
                        break;
                    }
                case ReshapeNode reshape:
                    steps.Add(new ReshapeStep(reshape, Layout.SameChannelsLast(context.Shapes[reshape.Input], context.Shapes[reshape.Output])));
                    break;
                case LinearNode linear:
                    steps.Add(new LinearStep(linear));
                    break;
                case FakeQuantizeNode quantize:
                    steps.Add(new FakeQuantizeStep(quantize, quantize.Levels == 256 ? QuantizerGrid.Of(context, quantize) : default));
                    break;
                default:
                    throw new NotSupportedException($"Graph '{graph.Name}', node '{node.Name}' ({node.Op}): the executor has no {node.Op}");
            }
        }
        // An activation FakeQuantize that only integer steps read (they quantize its input themselves) has nothing to do.
        var read = steps.SelectMany(step => step.Inputs).Append(graph.Output).ToHashSet();
        steps.RemoveAll(step => step is FakeQuantizeStep && !read.Contains(step.Output));
        if (integer)
            StoreCodes(steps, graph.Output);
        return steps;
    }

    /// <summary>
    /// A value on an 8-bit grid that only integer steps read (convolutions, residual joins) travels as codes: its step
    /// stores bytes and its readers take them as they are, with no float written, read back and quantized again in between.
    /// So does a float value whose readers all quantize it on one grid (an integer depthwise convolution's output that
    /// its pool takes as row sums and its gate quantizes; the clip's normalization that the stem quantizes), when the
    /// step that makes it can store that grid's codes.
    /// </summary>
    static void StoreCodes(List<ExecutionStep> steps, string graphOutput)
    {
        foreach (var producer in steps.Where(step => step.Output != graphOutput))
        {
            var readers = steps.Where(step => step.Inputs.Contains(producer.Output)).ToList();
            if (readers.Count == 0 || !readers.All(reader => reader is ICodeReader codeReader && codeReader.CanReadCodes(producer.Output)))
                continue;
            var grids = readers.Cast<ICodeReader>().Select(reader => reader.GridOf(producer.Output)).Where(grid => grid.Step > 0).Distinct().ToList();
            if (producer.CanStoreCodes && readers.All(reader => reader is not QuantizedScaleStep))
                producer.StoresCodes = true;
            else if (producer is IGridCodeWriter writer && grids is [var grid] && writer.CanStoreCodesFor(grid))
                writer.StoreCodesFor(grid);
            else
                continue;
            foreach (var reader in readers.Cast<ICodeReader>())
                reader.ReadCodes(producer.Output);
        }
    }

    /// <summary>
    /// The value that clips [N, T, H, W, C] are as they come, when the graph's first node turns its input
    /// [N, 1, C, T, H, W] into [N, C, T, H, W]; null otherwise.
    /// </summary>
    public static string? ChannelsLastInput(ModelGraph graph) =>
        graph.Nodes.FirstOrDefault() is ReshapeNode reshape && reshape.Input == graph.Input.Name
        && graph.Input.Shape is [_, 1, .. var rest] && reshape.Shape is [_, .. var target] && rest.SequenceEqual(target)
            ? reshape.Output
            : null;
}

/// <summary>A convolution with its bias and activation (a BatchNorm with unit statistics applies both in one pass).</summary>
sealed unsafe class ConvStep(ConvNode node, Activation activation, string output) : ExecutionStep(node.Name, output)
{
    public override IReadOnlyList<string> Inputs => node.Inputs;

    ConvGeometry Geometry(ExecutionPlan plan) => Geometry(node, plan, node.Input);

    /// <summary>The geometry of <paramref name="node"/> on the value <paramref name="input"/> (its input, or what stands for it).</summary>
    public static ConvGeometry Geometry(ConvNode node, ExecutionPlan plan, string input)
    {
        var x = plan.Shape(input);
        var w = plan.Shape(node.Weight);
        if (x.Length != 5 || w.Length != 5)
            throw new ArgumentException($"needs a 5-D input and weight, got {ShapeInference.Format(x)} and {ShapeInference.Format(w)}");
        if (w[1] * node.Groups != x[1])
            throw new ArgumentException($"weight {ShapeInference.Format(w)} with {node.Groups} groups does not take {x[1]} input channels");
        var g = new ConvGeometry(x[0], x[2], x[3], x[4], x[1], w[0], w[2], w[3], w[4], node.Strides[0], node.Strides[1], node.Strides[2],
            node.Pads[0], node.Pads[1], node.Pads[2]);
        g.Validate();
        return g;
    }

    bool Pointwise(ConvGeometry g) => node.Groups == 1 && g.KernelVolume == 1 && g.PadDepth + g.PadHeight + g.PadWidth == 0 && g.StrideDepth == 1;

    public override string Kind(ExecutionPlan plan)
    {
        var g = Geometry(plan);
        return Pointwise(g) ? "pointwise conv" : node.Groups == 1 ? "dense conv" : "depthwise conv";
    }

    public override long ScratchLength(ExecutionPlan plan)
    {
        var g = Geometry(plan);
        return Pointwise(g) && (g.StrideHeight != 1 || g.StrideWidth != 1) ? g.OutputLength / g.OutChannels * g.InChannels : 0;
    }

    public override void Run(ExecutionPlan plan)
    {
        var g = Geometry(plan);
        float* y = plan.Pointer(Output), x = plan.Pointer(node.Input), w = plan.Pointer(node.Weight);
        int cin = g.InChannels, cout = g.OutChannels;
        long rows = g.OutputLength / cout;
        if (Pointwise(g))
        {
            if (g.StrideHeight != g.StrideWidth)
                throw new NotSupportedException($"a 1x1x1 convolution with strides {ShapeInference.Format(node.Strides)}");
            if (g.StrideHeight != 1)
            {
                float* sampled = plan.Scratch(this);
                Subsample.Forward(sampled, x, g.Batch, g.InDepth, g.InHeight, g.InWidth, cin, g.StrideHeight);
                x = sampled;
            }
            Gemm.Multiply(y, x, w, (int)rows, cout, cin, transposeA: false, transposeB: true, accumulate: false);
        }
        else if (node.Groups == 1)
            Conv3d.Forward(y, x, w, g);
        else if (node.Groups == cin && cout == cin)
            DepthwiseConv3d.Forward(y, x, w, g);
        else
            throw new NotSupportedException($"{node.Groups} groups over {cin} channels (only 1 or depthwise)");
        if (node.Bias is not null || activation != Activation.None)
            ChannelAffine(plan.Context, y, y, null, node.Bias, rows, cout, activation);
    }

    /// <summary>y = act(x · scale + shift) per channel, in one pass (BatchNorm's inference kernel with mean 0 and variance 1).</summary>
    public static void ChannelAffine(ExecutionContext context, float* y, float* x, string? scale, string? shift, long rows, int channels, Activation activation) =>
        BatchNorm.ForwardInference(y, x, context.PerChannel(scale, channels, 1f), context.PerChannel(shift, channels, 0f),
            context.PerChannel(null, channels, 0f), context.PerChannel(null, channels, 1f), rows, channels, 0f, activation);
}

/// <summary>
/// A per-channel constant scale and/or shift (the input normalization, a constant Mul or Add), with an activation; its
/// output as the codes of the grid its readers quantize it on, when they are integer layers (the clip into the stem).
/// </summary>
sealed unsafe class AffineStep(string name, string input, string? scale, string? shift, Activation activation, string output)
    : ExecutionStep(name, output), IGridCodeWriter
{
    QuantizerGrid codesGrid;

    public override IReadOnlyList<string> Inputs => [input, .. new[] { scale, shift }.OfType<string>()];

    public override string Kind(ExecutionPlan plan) => StoresCodes ? "affine into codes" : "affine";

    public bool CanStoreCodesFor(QuantizerGrid grid) => activation == Activation.None && grid.HasCodes;

    public void StoreCodesFor(QuantizerGrid grid)
    {
        codesGrid = grid;
        StoresCodes = true;
    }

    public override void Run(ExecutionPlan plan)
    {
        var x = plan.Slot(input);
        if (StoresCodes)
            Requantize.AffineToCodes(codesGrid.AsCodes((byte*)plan.Pointer(Output)), plan.Pointer(x), plan.Context.PerChannel(scale, x.Channels, 1f),
                plan.Context.PerChannel(shift, x.Channels, 0f), x.Length / x.Channels, x.Channels);
        else
            ConvStep.ChannelAffine(plan.Context, plan.Pointer(Output), plan.Pointer(x), scale, shift, x.Length / x.Channels, x.Channels, activation);
    }
}

/// <summary>a + b or a · b of two computed values: equal shapes, or b per channel ([1, C, 1...]) or per clip and channel ([N, C, 1...]).</summary>
sealed unsafe class BinaryStep(string name, string a, string b, bool multiply, Activation activation, string output) : ExecutionStep(name, output)
{
    public override IReadOnlyList<string> Inputs => [a, b];

    public override string Kind(ExecutionPlan plan) => multiply ? "multiply" : "add";

    public override void Run(ExecutionPlan plan)
    {
        Slot left = plan.Slot(a), right = plan.Slot(b);
        if (right.Length > left.Length)
            (left, right) = (right, left);
        float* y = plan.Pointer(Output), pa = plan.Pointer(left), pb = plan.Pointer(right);
        bool perChannel = right.Shape.Length == left.Shape.Length && right.Shape[1] == left.Channels && right.Shape.Skip(2).All(d => d == 1);
        if (right.Shape.SequenceEqual(left.Shape) && !multiply)
            Elementwise.Add(y, pa, pb, left.Length, relu: activation == Activation.Relu);
        else if (right.Shape.SequenceEqual(left.Shape) && activation == Activation.None)
            Elementwise.ForChunks(left.Length, (offset, count) =>
                TensorPrimitives.Multiply(new ReadOnlySpan<float>(pa + offset, count), new ReadOnlySpan<float>(pb + offset, count), new Span<float>(y + offset, count)));
        else if (perChannel && multiply && (right.Shape[0] == 1 || right.Shape[0] == left.Shape[0]))
        {
            // A per-channel factor shared by all clips scales one "clip" of N·S positions.
            bool shared = right.Shape[0] == 1;
            ChannelScale.Forward(y, pa, pb, shared ? 1 : left.Shape[0], shared ? left.Shape[0] * left.Positions : left.Positions, left.Channels, activation);
        }
        else if (perChannel && right.Shape[0] == 1 && activation == Activation.None)
        {
            new Span<float>(pa, (int)left.Length).CopyTo(new Span<float>(y, (int)left.Length));
            Bias.Forward(y, pb, left.Length / left.Channels, left.Channels);
        }
        else
            throw new NotSupportedException($"{(multiply ? "multiplying" : "adding")} {ShapeInference.Format(right.Shape)} onto {ShapeInference.Format(left.Shape)}");
    }
}

sealed unsafe class UnaryStep(UnaryNode node) : ExecutionStep(node.Name, node.Output)
{
    public override IReadOnlyList<string> Inputs => node.Inputs;

    public override void Run(ExecutionPlan plan)
    {
        var x = plan.Slot(node.Input);
        float* px = plan.Pointer(x), py = plan.Pointer(Output);
        switch (node.Function)
        {
            case UnaryOp.Relu:
                Elementwise.Relu(py, px, x.Length);
                break;
            case UnaryOp.Sigmoid:
                Elementwise.Sigmoid(py, px, x.Length);
                break;
            case UnaryOp.Swish:
                Elementwise.Swish(py, px, x.Length);
                break;
        }
    }
}

/// <summary>
/// A global average pool; in a quantized graph whose integer depthwise convolution writes the input, from the row sums
/// that convolution takes as it writes (<see cref="FromRowSums"/>), so the pool does not read its input again.
/// </summary>
sealed unsafe class PoolStep(GlobalAveragePoolNode node) : ExecutionStep(node.Name, node.Output), ICodeReader
{
    float[] rowSums = [];

    public override IReadOnlyList<string> Inputs => node.Inputs;

    /// <summary>Whether the step that writes the input also writes its row sums (<see cref="RowSums"/>).</summary>
    public bool FromRowSums { get; set; }

    /// <summary>From row sums it reads nothing of the input but its shape, which may then be stored in any form.</summary>
    public bool CanReadCodes(string value) => FromRowSums && value == node.Input;

    public QuantizerGrid GridOf(string value) => default;

    public void ReadCodes(string value) { }

    /// <summary>Where the row sums of this plan's input go: [N · D · H, C], pinned, kept with the step.</summary>
    public float* RowSums(ExecutionPlan plan)
    {
        var x = plan.Slot(node.Input);
        long length = x.Shape[0] * x.Shape[2] * x.Shape[3] * (long)x.Channels;
        if (rowSums.Length < length)
            rowSums = GC.AllocateArray<float>(checked((int)length), pinned: true);
        return ExecutionContext.Address(rowSums);
    }

    public override void Run(ExecutionPlan plan)
    {
        var x = plan.Slot(node.Input);
        if (x.Shape.Length < 3)
            throw new ArgumentException($"needs N, C and spatial axes, got {ShapeInference.Format(x.Shape)}");
        if (FromRowSums)
            GlobalAveragePool.FromRowSums(plan.Pointer(Output), RowSums(plan), x.Shape[0], x.Shape[2] * x.Shape[3], x.Positions, x.Channels);
        else
            Kernels.Cpu.GlobalAveragePool.Forward(plan.Pointer(Output), plan.Pointer(x), x.Shape[0], x.Positions, x.Channels);
    }
}

/// <summary>A Reshape: nothing to do when both shapes lay the values out alike channels-last, else a copy through N C ... order.</summary>
sealed class ReshapeStep(ReshapeNode node, bool alias) : ExecutionStep(node.Name, node.Output)
{
    public override IReadOnlyList<string> Inputs => node.Inputs;

    public override string? AliasOf => alias ? node.Input : null;

    public override void Run(ExecutionPlan plan)
    {
        if (alias)
            return;
        Slot x = plan.Slot(node.Input), y = plan.Slot(Output);
        Layout.Transpose(Layout.Transposed(plan.Span(x), x.Shape, toChannelsLast: false), plan.Span(y), y.Shape, toChannelsLast: true);
    }
}

sealed unsafe class LinearStep(LinearNode node) : ExecutionStep(node.Name, node.Output)
{
    public override IReadOnlyList<string> Inputs => node.Inputs;

    public override void Run(ExecutionPlan plan)
    {
        var x = plan.Slot(node.Input);
        var weight = plan.Shape(node.Weight);
        if (x.Shape.Length != 2 || weight.Length != 2 || weight[1] != x.Shape[1])
            throw new ArgumentException($"input {ShapeInference.Format(x.Shape)} does not fit weight {ShapeInference.Format(weight)}");
        int rows = x.Shape[0], outputs = weight[0];
        float* y = plan.Pointer(Output);
        Gemm.Multiply(y, plan.Pointer(x), plan.Pointer(node.Weight), rows, outputs, x.Shape[1], transposeA: false, transposeB: true, accumulate: false);
        if (node.Bias is not null)
            Bias.Forward(y, plan.Pointer(node.Bias), rows, outputs);
    }
}

/// <summary>
/// An activation's FakeQuantize: ranges per tensor ([1]) or per channel ([1, C, 1, ...]); a per-tensor one on 8-bit
/// codes stores the codes when only integer steps read it (<see cref="StepCompiler"/> decides).
/// </summary>
sealed unsafe class FakeQuantizeStep(FakeQuantizeNode node, QuantizerGrid grid) : ExecutionStep(node.Name, node.Output)
{
    public override IReadOnlyList<string> Inputs => node.Inputs;

    public override string Kind(ExecutionPlan plan) => StoresCodes ? "quantize to codes" : "fake quantize";

    public override bool CanStoreCodes => grid.HasCodes;

    public override void Run(ExecutionPlan plan)
    {
        var x = plan.Slot(node.Input);
        if (StoresCodes)
        {
            Requantize.ToByteCodes(grid.AsCodes((byte*)plan.Pointer(Output)), plan.Pointer(x), x.Length / x.Channels, x.Channels);
            return;
        }
        int ranges = plan.Context.Data(node.Low).Length;
        if (ranges != plan.Context.Data(node.High).Length)
            throw new ArgumentException($"input_low has {ranges} values but input_high {plan.Context.Data(node.High).Length}");
        Kernels.Cpu.FakeQuantize.Forward(plan.Pointer(Output), plan.Pointer(x), plan.Pointer(node.Low), plan.Pointer(node.High), ranges, x.Channels, x.Length, node.Levels);
    }
}
