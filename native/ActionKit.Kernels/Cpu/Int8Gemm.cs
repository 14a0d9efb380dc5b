using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace ActionKit.Kernels.Cpu;

/// <summary>The instructions an integer kernel runs on; chosen at run time (<see cref="Int8Gemm.Path"/>), forced by tests.</summary>
public enum Int8Path
{
    /// <summary>Plain loops.</summary>
    Scalar,

    /// <summary>vpmaddwd on 256-bit vectors: 16 products of 16-bit operands per instruction.</summary>
    Avx2,

    /// <summary>vpmaddwd on 512-bit vectors (AVX-512 BW): 32 products per instruction.</summary>
    Avx512,
}

/// <summary>
/// Integer GEMM for the pointwise convolutions of a quantized model: c [M, N] (s32) = a [M, K] (8-bit activation
/// codes, u8 0..255 or s8 -128..127) · bᵀ, b [N, K] (s8 weight codes), exact. The activation codes come widened to 16 bits (rows padded to an
/// even K) and the weights packed once into panels of 16 output channels holding pairs of 16-bit weights, so the
/// vector paths multiply with vpmaddwd: each pair sum a·b + a'·b' is at most 2 · 255 · 128 in magnitude, far inside
/// s32, and nothing saturates. (vpmaddubsw would take the bytes directly but saturates its 16-bit pair sums at
/// u8 · s8 values as small as 255 · 65 · 2; OpenVINO avoids that on CPUs without VNNI by quantizing weights to 7 bits,
/// which costs accuracy; widening costs half of vpmaddubsw's rate and keeps all 8 bits. .NET 10 exposes VNNI only as
/// the VEX-encoded AVX-VNNI, which the development machines lack, so no vpdpbusd path is written untested.)
/// </summary>
public static unsafe class Int8Gemm
{
    /// <summary>Output channels per packed panel (one 512-bit vector of s32).</summary>
    public const int PanelWidth = 16;

    const int RowsPerChunk = 64;

    /// <summary>The widest path this CPU runs.</summary>
    public static Int8Path Best => Avx512BW.IsSupported ? Int8Path.Avx512 : Avx2.IsSupported ? Int8Path.Avx2 : Int8Path.Scalar;

    /// <summary>The path the kernels take: <see cref="Best"/> unless a test forces one.</summary>
    public static Int8Path Path { get; set; } = Best;

    /// <summary>Whether this CPU can run <paramref name="path"/>.</summary>
    public static bool IsSupported(Int8Path path) => path switch
    {
        Int8Path.Avx512 => Avx512BW.IsSupported,
        Int8Path.Avx2 => Avx2.IsSupported,
        _ => true,
    };

    /// <summary>K rounded up to even: the row length of widened activation codes and of packed weight pairs.</summary>
    public static int PaddedDepth(int k) => (k + 1) & ~1;

    /// <summary>N rounded up to whole panels: the row length of the s32 result.</summary>
    public static int PaddedWidth(int n) => (n + PanelWidth - 1) / PanelWidth * PanelWidth;

    /// <summary>
    /// b [N, K] s8 into panels: for each 16 output channels, for each pair of k, 16 lanes of two s16 weights
    /// (zero where N or K run out). Length <see cref="PaddedWidth"/>(N) · <see cref="PaddedDepth"/>(K).
    /// </summary>
    public static short[] Pack(ReadOnlySpan<sbyte> b, int n, int k)
    {
        int depth = PaddedDepth(k);
        var packed = new short[PaddedWidth(n) * depth];
        for (int o = 0; o < n; o++)
            for (int i = 0; i < k; i++)
            {
                int panel = o / PanelWidth, lane = o % PanelWidth, pair = i / 2;
                packed[(panel * (depth / 2) + pair) * PanelWidth * 2 + lane * 2 + i % 2] = b[o * k + i];
            }
        return packed;
    }

    /// <summary>
    /// c [M, PaddedWidth(N)] = a · bᵀ with a [M, PaddedDepth(K)] activation codes (as s16, zero padded) and b
    /// packed by <see cref="Pack"/>; parallel over fixed chunks of rows.
    /// </summary>
    public static void Multiply(int* c, short* a, short* packed, int m, int n, int k)
    {
        int depth = PaddedDepth(k), panels = PaddedWidth(n) / PanelWidth;
        var path = Path;
        if (!IsSupported(path))
            throw new PlatformNotSupportedException($"Int8Gemm: this CPU cannot run the {path} path.");
        CpuParallel.For(CpuParallel.ChunkCount(m, RowsPerChunk), chunk =>
        {
            int start = chunk * RowsPerChunk, end = Math.Min(m, start + RowsPerChunk);
            switch (path)
            {
                case Int8Path.Avx512:
                    Rows512(c, a, packed, start, end, depth, panels);
                    break;
                case Int8Path.Avx2:
                    Rows256(c, a, packed, start, end, depth, panels);
                    break;
                default:
                    RowsScalar(c, a, packed, start, end, depth, panels);
                    break;
            }
        });
    }

    static void RowsScalar(int* c, short* a, short* packed, int start, int end, int depth, int panels)
    {
        int width = panels * PanelWidth;
        for (int r = start; r < end; r++)
            for (int panel = 0; panel < panels; panel++)
                for (int lane = 0; lane < PanelWidth; lane++)
                {
                    int sum = 0;
                    for (int pair = 0; pair < depth / 2; pair++)
                    {
                        short* w = packed + (panel * (depth / 2) + pair) * PanelWidth * 2 + lane * 2;
                        sum += a[(long)r * depth + pair * 2] * w[0] + a[(long)r * depth + pair * 2 + 1] * w[1];
                    }
                    c[(long)r * width + panel * PanelWidth + lane] = sum;
                }
    }

    /// <summary>Four rows by one panel at a time: four accumulators, each pair of k one broadcast and one vpmaddwd per row.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Rows512(int* c, short* a, short* packed, int start, int end, int depth, int panels)
    {
        int width = panels * PanelWidth, pairs = depth / 2;
        for (int panel = 0; panel < panels; panel++)
        {
            short* panelStart = packed + panel * pairs * PanelWidth * 2;
            int r = start;
            for (; r + 4 <= end; r += 4)
            {
                int* a0 = (int*)(a + (long)r * depth), a1 = (int*)(a + (long)(r + 1) * depth), a2 = (int*)(a + (long)(r + 2) * depth), a3 = (int*)(a + (long)(r + 3) * depth);
                Vector512<int> s0 = default, s1 = default, s2 = default, s3 = default;
                for (int pair = 0; pair < pairs; pair++)
                {
                    var w = Vector512.Load(panelStart + pair * PanelWidth * 2);
                    s0 += Avx512BW.MultiplyAddAdjacent(Vector512.Create(a0[pair]).AsInt16(), w);
                    s1 += Avx512BW.MultiplyAddAdjacent(Vector512.Create(a1[pair]).AsInt16(), w);
                    s2 += Avx512BW.MultiplyAddAdjacent(Vector512.Create(a2[pair]).AsInt16(), w);
                    s3 += Avx512BW.MultiplyAddAdjacent(Vector512.Create(a3[pair]).AsInt16(), w);
                }
                int* row = c + (long)r * width + panel * PanelWidth;
                s0.Store(row);
                s1.Store(row + width);
                s2.Store(row + 2 * width);
                s3.Store(row + 3 * width);
            }
            for (; r < end; r++)
            {
                int* ar = (int*)(a + (long)r * depth);
                Vector512<int> sum = default;
                for (int pair = 0; pair < pairs; pair++)
                    sum += Avx512BW.MultiplyAddAdjacent(Vector512.Create(ar[pair]).AsInt16(), Vector512.Load(panelStart + pair * PanelWidth * 2));
                sum.Store(c + (long)r * width + panel * PanelWidth);
            }
        }
    }

    /// <summary>The 256-bit version: a panel is two vectors, so four rows keep eight accumulators.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Rows256(int* c, short* a, short* packed, int start, int end, int depth, int panels)
    {
        int width = panels * PanelWidth, pairs = depth / 2;
        for (int panel = 0; panel < panels; panel++)
        {
            short* panelStart = packed + panel * pairs * PanelWidth * 2;
            int r = start;
            for (; r + 4 <= end; r += 4)
            {
                int* a0 = (int*)(a + (long)r * depth), a1 = (int*)(a + (long)(r + 1) * depth), a2 = (int*)(a + (long)(r + 2) * depth), a3 = (int*)(a + (long)(r + 3) * depth);
                Vector256<int> s0 = default, t0 = default, s1 = default, t1 = default, s2 = default, t2 = default, s3 = default, t3 = default;
                for (int pair = 0; pair < pairs; pair++)
                {
                    short* w = panelStart + pair * PanelWidth * 2;
                    Vector256<short> low = Vector256.Load(w), high = Vector256.Load(w + 16);
                    Vector256<short> x0 = Vector256.Create(a0[pair]).AsInt16(), x1 = Vector256.Create(a1[pair]).AsInt16();
                    Vector256<short> x2 = Vector256.Create(a2[pair]).AsInt16(), x3 = Vector256.Create(a3[pair]).AsInt16();
                    s0 += Avx2.MultiplyAddAdjacent(x0, low);
                    t0 += Avx2.MultiplyAddAdjacent(x0, high);
                    s1 += Avx2.MultiplyAddAdjacent(x1, low);
                    t1 += Avx2.MultiplyAddAdjacent(x1, high);
                    s2 += Avx2.MultiplyAddAdjacent(x2, low);
                    t2 += Avx2.MultiplyAddAdjacent(x2, high);
                    s3 += Avx2.MultiplyAddAdjacent(x3, low);
                    t3 += Avx2.MultiplyAddAdjacent(x3, high);
                }
                int* row = c + (long)r * width + panel * PanelWidth;
                s0.Store(row);
                t0.Store(row + 8);
                s1.Store(row + width);
                t1.Store(row + width + 8);
                s2.Store(row + 2 * width);
                t2.Store(row + 2 * width + 8);
                s3.Store(row + 3 * width);
                t3.Store(row + 3 * width + 8);
            }
            for (; r < end; r++)
            {
                int* ar = (int*)(a + (long)r * depth);
                Vector256<int> low = default, high = default;
                for (int pair = 0; pair < pairs; pair++)
                {
                    short* w = panelStart + pair * PanelWidth * 2;
                    var x = Vector256.Create(ar[pair]).AsInt16();
                    low += Avx2.MultiplyAddAdjacent(x, Vector256.Load(w));
                    high += Avx2.MultiplyAddAdjacent(x, Vector256.Load(w + 16));
                }
                low.Store(c + (long)r * width + panel * PanelWidth);
                high.Store(c + (long)r * width + panel * PanelWidth + 8);
            }
        }
    }
}
