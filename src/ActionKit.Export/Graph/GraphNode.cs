namespace ActionKit.Export.Graph;

/// <summary>One operation: it reads <see cref="Inputs"/> (values or constants) and defines <see cref="Output"/>.</summary>
public abstract record GraphNode(string Name, string Output)
{
    /// <summary>The operation's name as ActionKit writes it in diagnostics (ONNX-style).</summary>
    public abstract string Op { get; }

    public abstract IReadOnlyList<string> Inputs { get; }
}

/// <summary>
/// 3-D convolution: [N, Cin, D, H, W] ⊛ weight [Cout, Cin/Groups, kD, kH, kW] (+ bias [Cout]). Pads are symmetric
/// (the same before and after on each of D, H, W), as every ActionKit model uses them.
/// </summary>
public sealed record ConvNode(string Name, string Output, string Input, string Weight, string? Bias,
    int[] Strides, int[] Pads, int Groups) : GraphNode(Name, Output)
{
    public override string Op => "Conv";
    public override IReadOnlyList<string> Inputs => Bias is null ? [Input, Weight] : [Input, Weight, Bias];
}

/// <summary>y = a + b with numpy broadcasting (b may be a per-channel constant [1, C, 1, 1, 1]).</summary>
public sealed record AddNode(string Name, string Output, string A, string B) : GraphNode(Name, Output)
{
    public override string Op => "Add";
    public override IReadOnlyList<string> Inputs => [A, B];
}

/// <summary>y = a · b with numpy broadcasting (b may be [N, C, 1, 1, 1] or a per-channel constant).</summary>
public sealed record MulNode(string Name, string Output, string A, string B) : GraphNode(Name, Output)
{
    public override string Op => "Mul";
    public override IReadOnlyList<string> Inputs => [A, B];
}

/// <summary>Elementwise activations.</summary>
public enum UnaryOp { Relu, Sigmoid, Swish }

/// <summary>y = f(x) elementwise: ReLU, sigmoid, or Swish x·sigmoid(x).</summary>
public sealed record UnaryNode(string Name, string Output, UnaryOp Function, string Input) : GraphNode(Name, Output)
{
    public override string Op => Function.ToString();
    public override IReadOnlyList<string> Inputs => [Input];
}

/// <summary>[N, C, D, H, W] to [N, C, 1, 1, 1], the mean over D, H, W.</summary>
public sealed record GlobalAveragePoolNode(string Name, string Output, string Input) : GraphNode(Name, Output)
{
    public override string Op => "GlobalAveragePool";
    public override IReadOnlyList<string> Inputs => [Input];
}

/// <summary>
/// Reshape to <see cref="Shape"/>, where -1 is inferred from the element count (at most one -1). ActionKit uses it to
/// drop the clips axis of [N, 1, 3, T, H, W] and to flatten [N, C, 1, 1, 1] to [N, C].
/// </summary>
public sealed record ReshapeNode(string Name, string Output, string Input, int[] Shape) : GraphNode(Name, Output)
{
    public override string Op => "Reshape";
    public override IReadOnlyList<string> Inputs => [Input];
}

/// <summary>Fully connected: y [N, out] = x [N, in] · weightᵀ (weight [out, in], PyTorch's Linear) (+ bias [out]).</summary>
public sealed record LinearNode(string Name, string Output, string Input, string Weight, string? Bias) : GraphNode(Name, Output)
{
    public override string Op => "Linear";
    public override IReadOnlyList<string> Inputs => Bias is null ? [Input, Weight] : [Input, Weight, Bias];
}

/// <summary>
/// OpenVINO's FakeQuantize with input range = output range: x clamped to [low, high] and rounded to one of
/// <see cref="Levels"/> evenly spaced values. Low and high are constants of shape [1] (per tensor), [C, 1, 1, 1, 1]
/// or [C, 1] (per output channel of a weight), or [1, C, 1, 1, 1] (per channel of an activation).
/// ActionKit's quantizer writes two forms, which the ONNX writer turns into Quantize/DequantizeLinear:
/// symmetric signed (levels 256, low = -128/127 · high, or levels 255 for weights, low = -high) and unsigned
/// (levels 256, low = 0).
/// </summary>
public sealed record FakeQuantizeNode(string Name, string Output, string Input, string Low, string High, int Levels)
    : GraphNode(Name, Output)
{
    public override string Op => "FakeQuantize";
    public override IReadOnlyList<string> Inputs => [Input, Low, High];
}
