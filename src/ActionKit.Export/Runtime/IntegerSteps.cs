using ActionKit.Export.Graph;
using ActionKit.Export.Quantization;
using ActionKit.Kernels;
using ActionKit.Kernels.Cpu;

namespace ActionKit.Export.Runtime;

/// <summary>
/// A pointwise convolution of a quantized graph in integers: its input's FakeQuantize (levels 256, one range, on
/// u8 or s8 codes) applied as codes, the int8 weights, an exact s32 GEMM, then one pass back to float with the scales, the
/// bias and the activation. It reads the value before the input's FakeQuantize and gives what the FakeQuantize
/// executor gives up to float rounding (the s32 sums are exact where float sums round).
/// </summary>
sealed unsafe class Int8ConvStep : ExecutionStep
{
    readonly ConvNode node;
    readonly string input;
    readonly float step;
    readonly (float Lowest, float Highest) codes;
    readonly int inputs, outputs;
    readonly Int8Weights packed;
    readonly float[] multiplier;
    readonly Activation activation;
    readonly (float Step, float Lowest, float Highest) grid;

    Int8ConvStep(ConvNode node, string input, float step, (float, float) codes, Int8Weight weight, Activation activation,
        (float, float, float) grid, string output) : base(node.Name, output)
    {
        this.codes = codes;
        this.grid = grid;
        this.node = node;
        this.input = input;
        this.step = step;
        this.activation = activation;
        (outputs, inputs) = (weight.Weight.Shape[0], weight.Weight.Shape[1]);
        packed = Int8Gemm.Pack(weight.Values, outputs, inputs);
        multiplier = GC.AllocateArray<float>(outputs, pinned: true);
        for (int o = 0; o < outputs; o++)
            multiplier[o] = step * weight.Scales[weight.PerChannel ? o : 0];
    }

    /// <summary>
    /// The integer form of <paramref name="conv"/>, or null with the reason when it has none: a pointwise convolution
    /// (1x1x1, no padding, equal height and width strides) whose input has a 256-level per-tensor FakeQuantize
    /// from 0 or signed symmetric (u8 or s8 codes) and whose weight a symmetric 255-level one.
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
        if (conv.Groups != 1 || shape.Length != 5 || shape[2] * shape[3] * shape[4] != 1 || conv.Pads.Any(pad => pad != 0)
            || conv.Strides[0] != 1 || conv.Strides[1] != conv.Strides[2])
            return null;
        var (step, lowest, highest) = Grid(context, inputQuantizer);
        if (inputQuantizer.Levels != 256 || (lowest, highest) is not ((0, 255) or (-128, 127)))
        {
            why = $"its input's FakeQuantize '{inputQuantizer.Name}' (levels {inputQuantizer.Levels}, {context.Data(inputQuantizer.Low).Length} range(s)) does not put it on u8 or s8 codes";
            return null;
        }
        var outputGrid = outputQuantizer is null ? default : Grid(context, outputQuantizer);
        return outputGrid.Step > 0
            ? new Int8ConvStep(conv, input(inputQuantizer), step, (lowest, highest), weight, activation, outputGrid, outputQuantizer!.Output)
            : new Int8ConvStep(conv, input(inputQuantizer), step, (lowest, highest), weight, activation, default, output);
    }

    /// <summary>
    /// A per-tensor FakeQuantize's grid as it computes it: step (high - low) / (levels - 1), end codes round(low / step)
    /// and round(high / step); step 0 for ranges per channel or of no width.
    /// </summary>
    static (float Step, float Lowest, float Highest) Grid(ExecutionContext context, FakeQuantizeNode quantizer)
    {
        float[] low = context.Data(quantizer.Low), high = context.Data(quantizer.High);
        float step = low.Length == 1 && high.Length == 1 ? (high[0] - low[0]) / (quantizer.Levels - 1) : 0;
        return step > 0 ? (step, MathF.Round(low[0] / step), MathF.Round(high[0] / step)) : default;
    }

    public override IReadOnlyList<string> Inputs => node.Bias is null ? [input] : [input, node.Bias];

    public override string Kind(ExecutionPlan plan) => "int8 pointwise conv";

    int Stride => node.Strides[1];

    long Rows(ExecutionPlan plan)
    {
        var x = plan.Shape(input);
        return (long)x[0] * x[2] * ((x[3] - 1) / Stride + 1) * ((x[4] - 1) / Stride + 1);
    }

    // Scratch in floats: the subsampled input (strided convolutions only).
    public override long ScratchLength(ExecutionPlan plan) => Stride == 1 ? 0 : Rows(plan) * inputs;

    public override void Run(ExecutionPlan plan)
    {
        var x = plan.Slot(input);
        if (x.Shape.Length != 5 || x.Channels != inputs)
            throw new ArgumentException($"input {ShapeInference.Format(x.Shape)} does not have the weight's {inputs} channels");
        float* source = plan.Pointer(x);
        if (Stride != 1)
        {
            Subsample.Forward(plan.Scratch(this), source, x.Shape[0], x.Shape[2], x.Shape[3], x.Shape[4], inputs, Stride);
            source = plan.Scratch(this);
        }
        fixed (float* scale = multiplier)
            Int8Gemm.Convolve(plan.Pointer(Output), source, packed, scale, node.Bias is null ? null : plan.Pointer(node.Bias), Rows(plan),
                step, codes.Lowest, codes.Highest, activation, grid.Step, grid.Lowest, grid.Highest);
    }
}
