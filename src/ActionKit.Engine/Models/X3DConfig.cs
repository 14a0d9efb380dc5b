using System.Text.Json.Serialization;

namespace ActionKit.Engine.Models;

/// <summary>
/// The shape of an X3D network (x3d.md): stage widths and depths, bottleneck expansion, squeeze-excitation
/// placement and the head. The defaults give the published X3D-XS/S/M weights' shapes.
/// </summary>
public sealed record X3DConfig
{
    public required int NumClasses { get; init; }
    public int StemWidth { get; init; } = 24;
    public int[] Widths { get; init; } = [24, 48, 96, 192];

    /// <summary>Blocks per stage: ceil(2.2 · [1, 2, 5, 3]) = [3, 5, 11, 7] (pytorchvideo's rounding; mmaction2's gives [2, 4, 11, 6]).</summary>
    public int[] Depths { get; init; } = [3, 5, 11, 7];

    public double BottleneckFactor { get; init; } = 2.25;
    public double SeRatio { get; init; } = 0.0625;

    /// <summary>Squeeze-excitation on blocks 0, SeEvery, 2·SeEvery, ... of each stage (0: none).</summary>
    public int SeEvery { get; init; } = 2;

    /// <summary>
    /// True where a shortcut that only strides (same width in and out) has no BatchNorm after its convolution, as in
    /// PyTorchVideo (create_x3d_res_block normalizes a shortcut only where the width changes); mmaction2's and
    /// ActionKit's have one. Left out of saved configurations when false.
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public bool StrideOnlyShortcutWithoutNorm { get; init; }

    public int HeadWidth { get; init; } = 432;
    public int HeadHidden { get; init; } = 2048;
    public float Dropout { get; init; } = 0.5f;
    public float BatchNormEpsilon { get; init; } = 1e-5f;
    public float BatchNormMomentum { get; init; } = 0.1f;

    /// <summary>Inner (expanded) width of a stage's bottleneck: int(2.25 · width) = 54, 108, 216, 432.</summary>
    public int InnerWidth(int stageWidth) => (int)(BottleneckFactor * stageWidth);

    /// <summary>
    /// Squeeze-excitation width, pytorchvideo's round_width(inner, ratio, min 8, divisor 8): 8, 8, 16, 32 for X3D.
    /// </summary>
    public int SqueezeWidth(int inner)
    {
        double width = inner * SeRatio;
        int rounded = Math.Max(8, (int)(width + 4) / 8 * 8);
        return rounded < 0.9 * width ? rounded + 8 : rounded;
    }

    public void Validate()
    {
        if (NumClasses < 1)
            throw new ArgumentException($"X3D needs at least one class, got {NumClasses}.");
        if (Widths.Length == 0 || Widths.Length != Depths.Length)
            throw new ArgumentException($"X3D stage widths ({Widths.Length}) and depths ({Depths.Length}) must be non-empty and of equal length.");
        if (StemWidth < 1 || Widths.Any(w => w < 1) || Depths.Any(d => d < 1) || HeadWidth < 1 || HeadHidden < 1)
            throw new ArgumentException("X3D widths and depths must be positive.");
        if (BottleneckFactor <= 0 || SeRatio < 0 || SeEvery < 0 || Dropout is < 0 or >= 1)
            throw new ArgumentException("X3D bottleneck factor must be positive, SE ratio and period non-negative, dropout in [0, 1).");
    }
}
