using ActionKit.Export.Graph;
using ActionKit.Export.Quantization;
using ActionKit.Kernels;
using ActionKit.Kernels.Cpu;

namespace ActionKit.Export.Runtime;

/// <summary>The grid of a per-tensor FakeQuantize as it computes it, and whether it has 8-bit codes.</summary>
unsafe readonly record struct QuantizerGrid(float Step, float Lowest, float Highest)
{
    /// <summary>
    /// Step (high - low) / (levels - 1), end levels round(low / step) and round(high / step); step 0 for ranges per
    /// channel or of no width.
    /// </summary>
    public static QuantizerGrid Of(ExecutionContext context, FakeQuantizeNode quantizer)
    {
        float[] low = context.Data(quantizer.Low), high = context.Data(quantizer.High);
        float step = low.Length == 1 && high.Length == 1 ? (high[0] - low[0]) / (quantizer.Levels - 1) : 0;
        return step > 0 ? new(step, MathF.Round(low[0] / step), MathF.Round(high[0] / step)) : default;
    }

    /// <summary>Levels 0..255 (u8) or -128..127 (s8): what an integer kernel reads and a byte holds.</summary>
    public bool HasCodes => Step > 0 && (Lowest, Highest) is ((0, 255) or (-128, 127));

    public Int8Tensor OnGrid(float* values) => Int8Tensor.OnGrid(values, Step, Lowest, Highest);

    public Int8Tensor AsCodes(byte* codes) => Int8Tensor.AsCodes(codes, Step, Lowest, Highest);
}

/// <summary>A step that can read some of its inputs as 8-bit codes when the steps that make them store codes.</summary>
interface ICodeReader
{
    /// <summary>Whether it can take <paramref name="value"/> as codes.</summary>
    bool CanReadCodes(string value);

    /// <summary>The grid on which it puts <paramref name="value"/> (whose codes it reads), or none when it reads no values of it.</summary>
    QuantizerGrid GridOf(string value);

    /// <summary>From now on it takes <paramref name="value"/> as codes.</summary>
    void ReadCodes(string value);
}

/// <summary>A step whose float output its readers all quantize on one grid, so that it can store that grid's codes instead.</summary>
interface IGridCodeWriter
{
    /// <summary>Whether it can store its output as the codes of <paramref name="grid"/>.</summary>
    bool CanStoreCodesFor(QuantizerGrid grid);

    /// <summary>From now on it stores its output as the codes of <paramref name="grid"/>.</summary>
    void StoreCodesFor(QuantizerGrid grid);
}

/// <summary>
/// A convolution of a quantized graph in integers: its input's FakeQuantize (levels 256, one range, on u8 or s8 codes)
/// applied as codes, the int8 weights, exact integer sums (an s32 GEMM for pointwise, the same over gathered taps for
/// dense, <see cref="Int8DepthwiseConv"/> for depthwise), then one pass out with the scales, the bias and the activation.
/// It gives what the FakeQuantize executor gives up to float rounding (the integer sums are exact where float sums
/// round). Its input is the value before the input's FakeQuantize, that FakeQuantize's output, or its codes when the
/// step that makes them stores codes; its output is floats, floats on the grid of the FakeQuantize that alone reads
/// it, or that grid's codes when only integer steps read them (<see cref="StepCompiler"/> decides).
/// </summary>
sealed unsafe class Int8ConvStep : ExecutionStep, ICodeReader, IGridCodeWriter
{
    readonly ConvNode node;
    readonly QuantizerGrid inputGrid, outputGrid;
    QuantizerGrid storedGrid;
    readonly int outputs;
    readonly Int8Weights? pointwise;
    readonly Int8DepthwiseWeights? depthwise;
    readonly bool dense;
    readonly float[] multiplier;
    readonly Activation activation;

    Int8ConvStep(ConvNode node, string input, QuantizerGrid inputGrid, Int8Weight weight, bool isDepthwise, bool isDense, Activation activation,
        QuantizerGrid outputGrid, string output) : base(node.Name, output)
    {
        this.node = node;
        Input = input;
        this.inputGrid = inputGrid;
        this.outputGrid = outputGrid;
        storedGrid = outputGrid;
        this.activation = activation;
        var shape = weight.Weight.Shape;
        outputs = shape[0];
        int perChannel = shape.Skip(1).Aggregate(1, (a, b) => a * b);
        dense = isDense;
        if (isDepthwise)
            depthwise = Int8DepthwiseConv.Pack(weight.Values, outputs, perChannel);
        else if (isDense)
            pointwise = Int8Gemm.PackGathered(weight.Values, outputs, shape[1], shape[2] * shape[3] * shape[4]);
        else
            pointwise = Int8Gemm.Pack(weight.Values, outputs, perChannel);
        multiplier = GC.AllocateArray<float>(outputs, pinned: true);
        for (int o = 0; o < outputs; o++)
            multiplier[o] = inputGrid.Step * weight.Scales[weight.PerChannel ? o : 0];
    }

    /// <summary>
    /// The integer form of <paramref name="conv"/>, or null with the reason when it has none: a pointwise convolution
    /// (1x1x1, no padding, equal height and width strides), a depthwise one (one input channel per group, up to
    /// <see cref="Int8DepthwiseConv.MaxTaps"/> taps) or any other ungrouped one, whose input has a 256-level per-tensor
    /// FakeQuantize from 0 or signed symmetric (u8 or s8 codes) and whose weight a symmetric 255-level one.
    /// </summary>
    /// <remarks>
    /// <paramref name="input"/> is the value the codes are made from: the input FakeQuantize's input, or its output where
    /// another step computes that (on the grid, it gives the same codes). A per-tensor <paramref name="outputQuantizer"/>
    /// that alone reads the output is applied in the same pass, and the step then defines its output instead.
    /// </remarks>
    public static Int8ConvStep? TryCreate(ModelGraph graph, ExecutionContext context, ConvNode conv, IReadOnlyDictionary<string, FakeQuantizeNode> quantizers,
        Func<FakeQuantizeNode, string> input, Activation activation, FakeQuantizeNode? outputQuantizer, string output, out string why)
    {
        why = "";
        if (!quantizers.TryGetValue(conv.Weight, out var weightQuantizer) || !quantizers.TryGetValue(conv.Input, out var inputQuantizer))
            return null;
        var weight = Int8Weight.TryCreate(graph, weightQuantizer, out why);
        if (weight is null)
            return null;
        var shape = weight.Weight.Shape;
        if (shape.Length != 5)
            return null;
        int taps = shape[2] * shape[3] * shape[4];
        bool isPointwise = conv.Groups == 1 && taps == 1 && conv.Pads.All(pad => pad == 0) && conv.Strides[0] == 1 && conv.Strides[1] == conv.Strides[2];
        bool isDepthwise = conv.Groups == shape[0] && shape[1] == 1 && taps <= Int8DepthwiseConv.MaxTaps;
        // Any other ungrouped convolution (the stem) is a GEMM over gathered taps.
        bool isDense = !isPointwise && !isDepthwise && conv.Groups == 1;
        if (!isPointwise && !isDepthwise && !isDense)
            return null;
        var grid = QuantizerGrid.Of(context, inputQuantizer);
        if (inputQuantizer.Levels != 256 || !grid.HasCodes)
        {
            why = $"its input's FakeQuantize '{inputQuantizer.Name}' (levels {inputQuantizer.Levels}, {context.Data(inputQuantizer.Low).Length} range(s)) does not put it on u8 or s8 codes";
            return null;
        }
        var outputGrid = outputQuantizer is null ? default : QuantizerGrid.Of(context, outputQuantizer);
        return outputGrid.Step > 0
            ? new Int8ConvStep(conv, input(inputQuantizer), grid, weight, isDepthwise, isDense, activation, outputGrid, outputQuantizer!.Output)
            : new Int8ConvStep(conv, input(inputQuantizer), grid, weight, isDepthwise, isDense, activation, default, output);
    }

    /// <summary>The value it reads (see <see cref="TryCreate"/>).</summary>
    public string Input { get; }

    public override bool CanStoreCodes => outputGrid.HasCodes;

    /// <summary>Whether it is depthwise with a plain float output, whose row sums it can take for a pool.</summary>
    public bool TakesRowSums => depthwise is not null && outputGrid.Step == 0;

    /// <summary>The pool that reads its output, to which it hands the row sums of what it writes.</summary>
    public PoolStep? RowSumsFor { get; set; }

    /// <summary>
    /// Whether its float output, read by its pool as row sums, can go out as the codes of <paramref name="grid"/>: the
    /// one grid on which every other reader (squeeze-excitation gates) quantizes it. Row sums stay sums of the floats.
    /// </summary>
    public bool CanStoreCodesFor(QuantizerGrid grid) => RowSumsFor is not null && grid.HasCodes;

    public void StoreCodesFor(QuantizerGrid grid)
    {
        storedGrid = grid;
        StoresCodes = true;
    }

    /// <summary>Whether its input arrives as codes (set once the step that makes them stores codes).</summary>
    bool ReadsCodes { get; set; }

    public bool CanReadCodes(string value) => value == Input;

    public QuantizerGrid GridOf(string value) => inputGrid;

    public void ReadCodes(string value) => ReadsCodes = true;

    public override IReadOnlyList<string> Inputs => node.Bias is null ? [Input] : [Input, node.Bias];

    public override string Kind(ExecutionPlan plan) => depthwise is not null ? "int8 depthwise conv" : dense ? "int8 dense conv" : "int8 pointwise conv";

    // Depthwise and dense convolutions gather taps from the whole input, as codes in memory (quantized into scratch when
    // they do not arrive so).
    bool GathersTaps => depthwise is not null || dense;

    // Scratch in floats: the subsampled input of a strided pointwise convolution, or the codes of a depthwise or dense
    // one's input when they do not arrive as codes.
    public override long ScratchLength(ExecutionPlan plan)
    {
        if (GathersTaps)
            return ReadsCodes ? 0 : CodeFloats(plan.Slot(Input).Length);
        long values = PointwiseRows(plan) * plan.Shape(Input)[1];
        return Stride == 1 ? 0 : ReadsCodes ? CodeFloats(values) : values;
    }

    /// <summary>Floats that hold <paramref name="count"/> byte codes, with room for a read of up to 16 bytes past the last one.</summary>
    public static long CodeFloats(long count) => count / 4 + 5;

    int Stride => node.Strides[1];

    long PointwiseRows(ExecutionPlan plan)
    {
        var x = plan.Shape(Input);
        return (long)x[0] * x[2] * ((x[3] - 1) / Stride + 1) * ((x[4] - 1) / Stride + 1);
    }

    public override void Run(ExecutionPlan plan)
    {
        var x = plan.Slot(Input);
        if (x.Shape.Length != 5 || (depthwise is null && !dense && x.Channels != pointwise!.K) || (depthwise is not null && x.Channels != outputs))
            throw new ArgumentException($"input {ShapeInference.Format(x.Shape)} does not have the weight's channels");
        float* source = plan.Pointer(x);
        float* output = plan.Pointer(Output);
        var y = StoresCodes ? storedGrid.AsCodes((byte*)output) : outputGrid.Step > 0 ? outputGrid.OnGrid(output) : Int8Tensor.Floats(output);
        float* bias = node.Bias is null ? null : plan.Pointer(node.Bias);
        fixed (float* scale = multiplier)
        {
            if (GathersTaps)
            {
                byte* codes = (byte*)source;
                if (!ReadsCodes)
                {
                    codes = (byte*)plan.Scratch(this);
                    Requantize.ToByteCodes(inputGrid.AsCodes(codes), source, x.Length / x.Channels, x.Channels);
                }
                var geometry = ConvStep.Geometry(node, plan, Input);
                if (dense)
                    Int8Gemm.ConvolveGathered(y, inputGrid.AsCodes(codes), pointwise!, scale, bias, geometry, activation);
                else
                    Int8DepthwiseConv.Convolve(y, inputGrid.AsCodes(codes), depthwise!, scale, bias, geometry, activation,
                        RowSumsFor is null ? null : RowSumsFor.RowSums(plan));
                return;
            }
            if (Stride != 1)
            {
                float* sampled = plan.Scratch(this);
                if (ReadsCodes)
                    Subsample.Forward((byte*)sampled, (byte*)source, x.Shape[0], x.Shape[2], x.Shape[3], x.Shape[4], x.Channels, Stride);
                else
                    Subsample.Forward(sampled, source, x.Shape[0], x.Shape[2], x.Shape[3], x.Shape[4], x.Channels, Stride);
                source = sampled;
            }
            var input = ReadsCodes ? inputGrid.AsCodes((byte*)source) : inputGrid.OnGrid(source);
            Int8Gemm.Convolve(y, input, pointwise!, scale, bias, PointwiseRows(plan), activation);
        }
    }
}

/// <summary>
/// Squeeze-excitation's gate in a quantized graph: y = act(FakeQuantize(x) · gate), x read before its FakeQuantize
/// and the output's FakeQuantize applied in the same pass (<see cref="ChannelScale.ForwardQuantized"/>), so that the
/// output goes out as floats on that grid or as its codes. The gate is per clip and channel, or per channel. x comes
/// as its codes when the depthwise convolution that makes it stores them.
/// </summary>
sealed unsafe class QuantizedScaleStep(string name, string input, QuantizerGrid inputGrid, string gate, Activation activation,
    QuantizerGrid outputGrid, string output) : ExecutionStep(name, output), ICodeReader
{
    bool readsCodes;

    public override IReadOnlyList<string> Inputs => [input, gate];

    public bool CanReadCodes(string value) => value == input && inputGrid.HasCodes;

    public QuantizerGrid GridOf(string value) => inputGrid;

    public void ReadCodes(string value) => readsCodes = true;

    public override string Kind(ExecutionPlan plan) => "quantized gate";

    public override bool CanStoreCodes => outputGrid.HasCodes;

    public override void Run(ExecutionPlan plan)
    {
        Slot x = plan.Slot(input), g = plan.Slot(gate);
        if (g.Shape.Length != x.Shape.Length || g.Channels != x.Channels || (g.Shape[0] != 1 && g.Shape[0] != x.Shape[0]))
            throw new ArgumentException($"multiplying {ShapeInference.Format(g.Shape)} onto {ShapeInference.Format(x.Shape)}");
        float* y = plan.Pointer(Output);
        var target = StoresCodes ? outputGrid.AsCodes((byte*)y) : outputGrid.Step > 0 ? outputGrid.OnGrid(y) : Int8Tensor.Floats(y);
        // A gate shared by all clips scales one "clip" of N·S positions.
        bool shared = g.Shape[0] == 1;
        var source = readsCodes ? inputGrid.AsCodes((byte*)plan.Pointer(x)) : inputGrid.OnGrid(plan.Pointer(x));
        ChannelScale.ForwardQuantized(target, source, plan.Pointer(g), shared ? 1 : x.Shape[0],
            shared ? x.Shape[0] * x.Positions : x.Positions, x.Channels, activation);
    }
}

/// <summary>
/// A residual join of a quantized graph, act(a + b) with both inputs on their FakeQuantize grids, read as floats on the
/// grid or as codes, and the output's FakeQuantize applied in the same pass (<see cref="QuantizedAdd"/>).
/// </summary>
sealed unsafe class QuantizedAddStep(string name, string a, QuantizerGrid aGrid, string b, QuantizerGrid bGrid, Activation activation,
    QuantizerGrid outputGrid, string output) : ExecutionStep(name, output), ICodeReader
{
    readonly HashSet<string> codes = [];

    public override IReadOnlyList<string> Inputs => [a, b];

    public override string Kind(ExecutionPlan plan) => "quantized add";

    public override bool CanStoreCodes => outputGrid.HasCodes;

    public bool CanReadCodes(string value) => (value == a && aGrid.HasCodes) || (value == b && bGrid.HasCodes);

    public QuantizerGrid GridOf(string value) => value == a ? aGrid : bGrid;

    public void ReadCodes(string value) => codes.Add(value);

    public override void Run(ExecutionPlan plan)
    {
        Slot left = plan.Slot(a), right = plan.Slot(b);
        if (!left.Shape.SequenceEqual(right.Shape))
            throw new ArgumentException($"adding {ShapeInference.Format(right.Shape)} to {ShapeInference.Format(left.Shape)}");
        float* y = plan.Pointer(Output);
        var target = StoresCodes ? outputGrid.AsCodes((byte*)y) : outputGrid.Step > 0 ? outputGrid.OnGrid(y) : Int8Tensor.Floats(y);
        QuantizedAdd.Forward(target, Input(plan, a, aGrid), Input(plan, b, bGrid), left.Shape.Aggregate(1L, (x, y) => x * y), activation);
    }

    Int8Tensor Input(ExecutionPlan plan, string value, QuantizerGrid grid) =>
        codes.Contains(value) ? grid.AsCodes((byte*)plan.Pointer(value)) : grid.OnGrid(plan.Pointer(value));
}
