namespace ActionKit.Kernels.Cpu;

/// <summary>
/// The taps of one axis that reach one target position: kernel indices First, First + KernelStep, ... (Count of
/// them), reading source positions Source, Source + SourceStep, ... Shared by the direct convolution kernels.
/// </summary>
internal readonly record struct AxisTaps(int First, int Count, int KernelStep, int Source, int SourceStep)
{
    public bool SharesTapsWith(AxisTaps other) => First == other.First && Count == other.Count;

    /// <summary>Target: output position o; source: input positions o·stride − pad + index.</summary>
    public static AxisTaps OfOutput(int o, int kernel, int stride, int pad, int inputLength)
    {
        int start = o * stride - pad;
        int first = Math.Max(0, -start), end = Math.Min(kernel, inputLength - start);
        return new AxisTaps(first, Math.Max(0, end - first), 1, start + first, 1);
    }

    /// <summary>Target: input position i; source: the output positions o with o·stride − pad + index = i.</summary>
    public static AxisTaps OfInput(int i, int kernel, int stride, int pad, int outputLength)
    {
        int q = i + pad;
        int first = Math.Max(0, q - stride * (outputLength - 1));
        first += (q - first) % stride;
        int last = Math.Min(kernel - 1, q);
        int count = last >= first ? (last - first) / stride + 1 : 0;
        return new AxisTaps(first, count, stride, (q - first) / stride, -1);
    }

    /// <summary>
    /// Row (n, z, y) of a [N, depth, height, ...] tensor, numbered with z fastest: the few depth slices around one y
    /// stay in cache while they are reused, instead of whole slices being read again for every z.
    /// </summary>
    public static (int N, int Z, int Y) RowAt(int row, int depth, int height) =>
        (row / (depth * height), row % depth, row / depth % height);
}
