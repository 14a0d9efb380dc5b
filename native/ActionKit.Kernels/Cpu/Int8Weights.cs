using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace ActionKit.Kernels.Cpu;

/// <summary>
/// An s8 weight matrix b [N, K] packed once for <see cref="Int8Gemm"/>'s paths: panels of 16 output channels holding
/// pairs of 16-bit weights (vpmaddwd), panels of 8 holding quads of bytes (vpdpbusd), and each output channel's Σ_k b
/// (which takes the u8 shift of s8 activation codes back out). Pinned; zero where N or K run out.
/// </summary>
public sealed unsafe class Int8Weights
{
    readonly short[] pairs;
    readonly sbyte[] quads;
    readonly int[] columnSums;

    internal Int8Weights(ReadOnlySpan<sbyte> b, int n, int k)
    {
        if (n < 1 || k < 1 || b.Length != (long)n * k)
            throw new ArgumentException($"Int8Weights: {b.Length} weights are not {n} x {k}.");
        (N, K) = (n, k);
        int width = Int8Gemm.PaddedWidth(n), pairDepth = Int8Gemm.PairDepth(k), quadDepth = Int8Gemm.QuadDepth(k);
        pairs = GC.AllocateArray<short>(width * pairDepth, pinned: true);
        quads = GC.AllocateArray<sbyte>(width * quadDepth, pinned: true);
        columnSums = GC.AllocateArray<int>(width, pinned: true);
        for (int o = 0; o < n; o++)
            for (int i = 0; i < k; i++)
            {
                sbyte weight = b[o * k + i];
                pairs[(o / 16 * (pairDepth / 2) + i / 2) * 32 + o % 16 * 2 + i % 2] = weight;
                quads[(o / 8 * (quadDepth / 4) + i / 4) * 32 + o % 8 * 4 + i % 4] = weight;
                columnSums[o] += weight;
            }
    }

    /// <summary>Output channels.</summary>
    public int N { get; }

    /// <summary>Input channels (the depth of the product).</summary>
    public int K { get; }

    internal short* PairsPointer => (short*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(pairs));

    internal sbyte* QuadsPointer => (sbyte*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(quads));

    internal int* ColumnSumsPointer => (int*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(columnSums));
}
