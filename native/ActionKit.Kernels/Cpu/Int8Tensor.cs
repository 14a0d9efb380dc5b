namespace ActionKit.Kernels.Cpu;

/// <summary>
/// One end of an integer layer, channels-last [rows, channels]: floats, floats put on a per-tensor FakeQuantize grid,
/// or that grid's 8-bit codes as bytes. Codes are stored as level + <see cref="Shift"/> (s8 levels moved into u8 by
/// 128, the form vpdpbusd takes), so activations that travel between integer layers as codes cost a quarter of the
/// floats' memory traffic and no quantizing pass.
/// </summary>
public readonly unsafe struct Int8Tensor
{
    Int8Tensor(float* values, byte* codes, float step, float lowest, float highest)
    {
        if (step < 0 || (step > 0 && (lowest, highest) is not ((0, 255) or (-128, 127)) && codes != null))
            throw new ArgumentException($"Int8Tensor: a grid of step {step} with levels {lowest}..{highest} has no 8-bit codes.");
        Values = values;
        Codes = codes;
        (Step, Lowest, Highest) = (step, lowest, highest);
    }

    /// <summary>Plain floats (an output only: an integer layer's input needs a grid).</summary>
    public static Int8Tensor Floats(float* values) => new(values, null, 0, 0, 0);

    /// <summary>Floats on the grid clamp(round(x / step), lowest, highest) · step, as the FakeQuantize of that step and levels puts them.</summary>
    public static Int8Tensor OnGrid(float* values, float step, float lowest, float highest) =>
        step > 0 ? new(values, null, step, lowest, highest) : throw new ArgumentException($"Int8Tensor: a grid needs a step above 0, not {step}.");

    /// <summary>The codes of the grid of that step: u8 levels 0..255, or s8 levels -128..127 stored shifted by 128.</summary>
    public static Int8Tensor AsCodes(byte* codes, float step, float lowest, float highest) =>
        step > 0 ? new(null, codes, step, lowest, highest) : throw new ArgumentException($"Int8Tensor: codes need a step above 0, not {step}.");

    public float* Values { get; }

    public byte* Codes { get; }

    /// <summary>The grid's step; 0 for plain floats.</summary>
    public float Step { get; }

    /// <summary>The lowest level (0 or -128 for codes).</summary>
    public float Lowest { get; }

    /// <summary>The highest level (255 or 127 for codes).</summary>
    public float Highest { get; }

    public bool IsCodes => Codes != null;

    /// <summary>What is added to a level to store it as a byte: 128 for s8 levels, else 0.</summary>
    public int Shift => Lowest < 0 ? 128 : 0;

    /// <summary>The same tensor from element <paramref name="offset"/> on.</summary>
    public Int8Tensor At(long offset) =>
        IsCodes ? new(null, Codes + offset, Step, Lowest, Highest) : new(Values + offset, null, Step, Lowest, Highest);
}
