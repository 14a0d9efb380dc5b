using ILGPU;

namespace ActionKit.Kernels.Gpu;

/// <summary>
/// Single-precision matrix multiply on row-major matrices, the twin of <see cref="Cpu.Gemm"/>; it serves the
/// pointwise convolutions and Linear, forward and both backwards.
/// </summary>
/// <remarks>
/// A group of 16x16 threads computes a 64x64 tile of c, each thread a 4x4 block of it (rows ty + 16·r, columns
/// tx + 16·s, so that neighbouring threads touch neighbouring columns). The depth is walked 16 at a time: the group
/// stages op(a)'s 64x16 and op(b)'s 16x64 slices in shared memory, reading each operand along whichever axis is
/// contiguous in memory, so global loads coalesce whatever the transposes. When the tiles are too few to fill the
/// device and k is deep (the weight gradient of a pointwise convolution: k = every position of the batch), k is split
/// into chunks whose products go to scratch and are then added in chunk order; the split depends only on (m, n, k),
/// so results are bit-reproducible.
/// </remarks>
public static class Gemm
{
    const int Tile = 64;
    const int Depth = 16;
    const int Threads = 16; // per side: 16 x 16 = GroupSize
    const int PerThread = Tile / Threads;
    // Shared rows of 65 floats: a column read by 16 threads touches 16 different banks.
    const int SharedStride = Tile + 1;
    // Splitting k stops once this many groups run; a split keeps at least this much depth.
    const int GroupsToFill = 264;
    const int MinSplitDepth = 256;

    /// <summary>
    /// c[m,n] = (accumulate ? c : 0) + op(a)[m,k] · op(b)[k,n], where op(a) = a stored [m,k], or aᵀ with a stored
    /// [k,m] when <paramref name="transposeA"/>; likewise b stored [k,n], or [n,k] when <paramref name="transposeB"/>.
    /// </summary>
    public static void Multiply(GpuKernels gpu, ArrayView<float> c, ArrayView<float> a, ArrayView<float> b, int m, int n, int k,
        bool transposeA, bool transposeB, bool accumulate)
    {
        if (m <= 0 || n <= 0 || k <= 0)
            throw new ArgumentOutOfRangeException(nameof(m), $"Matrix sizes must be positive: m={m}, n={n}, k={k}.");
        long tiles = (long)((m + Tile - 1) / Tile) * ((n + Tile - 1) / Tile);
        int splits = SplitCount(tiles, k);
        int splitDepth = (k + splits - 1) / splits;
        splitDepth = (splitDepth + Depth - 1) / Depth * Depth;
        splits = (k + splitDepth - 1) / splitDepth;
        var shape = new GemmShape(m, n, k, transposeA, transposeB, splitDepth, splits == 1 && accumulate);
        var config = new KernelConfig(new Index2D(GpuKernels.Extent(tiles, "Gemm.Multiply"), splits), new Index2D(GpuKernels.GroupSize, 1));
        if (splits == 1)
        {
            gpu.LaunchGrouped(MultiplyKernel, config, c, a, b, shape);
            return;
        }
        var partials = gpu.Scratch(GpuScratch.Partials, (long)splits * m * n);
        gpu.LaunchGrouped(MultiplyKernel, config, partials, a, b, shape);
        gpu.Launch(SumSplitsKernel, GpuKernels.Extent((long)m * n, "Gemm.Multiply"), c, partials, (long)m * n, splits, accumulate ? 1 : 0);
    }

    static int SplitCount(long tiles, int k)
    {
        if (tiles >= GroupsToFill || k < 2 * MinSplitDepth)
            return 1;
        return (int)Math.Min(k / MinSplitDepth, (GroupsToFill + tiles - 1) / tiles);
    }

    /// <summary>
    /// One 64x64 tile of op(a)·op(b) over one split of k (Grid.IdxY), written to c, or, with several splits, to
    /// partials [split, m, n].
    /// </summary>
    static void MultiplyKernel(ArrayView<float> c, ArrayView<float> a, ArrayView<float> b, GemmShape shape)
    {
        var sharedA = SharedMemory.Allocate<float>(Depth * SharedStride); // [p, i]
        var sharedB = SharedMemory.Allocate<float>(Depth * SharedStride); // [p, j]
        int tilesN = (shape.N + Tile - 1) / Tile;
        int row0 = Grid.IdxX / tilesN * Tile, column0 = Grid.IdxX % tilesN * Tile;
        int tx = Group.IdxX % Threads, ty = Group.IdxX / Threads;
        int p0 = Grid.IdxY * shape.SplitDepth, p1 = Math.Min(shape.K, p0 + shape.SplitDepth);

        Quad c0 = default, c1 = default, c2 = default, c3 = default;
        for (int pTile = p0; pTile < p1; pTile += Depth)
        {
            StageA(sharedA, a, shape, row0, pTile, p1);
            StageB(sharedB, b, shape, column0, pTile, p1);
            Group.Barrier();
            for (int p = 0; p < Depth; p++)
            {
                int rowA = p * SharedStride + ty, rowB = p * SharedStride + tx;
                var bs = new Quad(sharedB[rowB], sharedB[rowB + Threads], sharedB[rowB + 2 * Threads], sharedB[rowB + 3 * Threads]);
                c0 = Quad.MultiplyAdd(sharedA[rowA], bs, c0);
                c1 = Quad.MultiplyAdd(sharedA[rowA + Threads], bs, c1);
                c2 = Quad.MultiplyAdd(sharedA[rowA + 2 * Threads], bs, c2);
                c3 = Quad.MultiplyAdd(sharedA[rowA + 3 * Threads], bs, c3);
            }
            Group.Barrier();
        }

        var target = c.SubView((long)Grid.IdxY * shape.M * shape.N, (long)shape.M * shape.N);
        Store(target, shape, row0 + ty, column0 + tx, c0);
        Store(target, shape, row0 + ty + Threads, column0 + tx, c1);
        Store(target, shape, row0 + ty + 2 * Threads, column0 + tx, c2);
        Store(target, shape, row0 + ty + 3 * Threads, column0 + tx, c3);
    }

    // op(a)[row0.., pTile..] into shared [p, i]; zeros past m and past the split's end.
    static void StageA(ArrayView<float> shared, ArrayView<float> a, GemmShape shape, int row0, int pTile, int p1)
    {
        for (int e = Group.IdxX; e < Tile * Depth; e += GpuKernels.GroupSize)
        {
            // Consecutive threads walk the axis that is contiguous in memory: i when a is stored [k, m], else p.
            int i = shape.TransposeA ? e % Tile : e / Depth, p = shape.TransposeA ? e / Tile : e % Depth;
            int row = row0 + i, depth = pTile + p;
            shared[p * SharedStride + i] = row < shape.M && depth < p1
                ? a[shape.TransposeA ? (long)depth * shape.M + row : (long)row * shape.K + depth] : 0f;
        }
    }

    // op(b)[pTile.., column0..] into shared [p, j]; zeros past n and past the split's end.
    static void StageB(ArrayView<float> shared, ArrayView<float> b, GemmShape shape, int column0, int pTile, int p1)
    {
        for (int e = Group.IdxX; e < Tile * Depth; e += GpuKernels.GroupSize)
        {
            int j = shape.TransposeB ? e / Depth : e % Tile, p = shape.TransposeB ? e % Depth : e / Tile;
            int column = column0 + j, depth = pTile + p;
            shared[p * SharedStride + j] = column < shape.N && depth < p1
                ? b[shape.TransposeB ? (long)column * shape.K + depth : (long)depth * shape.N + column] : 0f;
        }
    }

    static void Store(ArrayView<float> c, GemmShape shape, int row, int column, Quad values)
    {
        if (row >= shape.M)
            return;
        long o = (long)row * shape.N;
        StoreOne(c, shape, o + column, column, values.X);
        StoreOne(c, shape, o + column + Threads, column + Threads, values.Y);
        StoreOne(c, shape, o + column + 2 * Threads, column + 2 * Threads, values.Z);
        StoreOne(c, shape, o + column + 3 * Threads, column + 3 * Threads, values.W);
    }

    static void StoreOne(ArrayView<float> c, GemmShape shape, long index, int column, float value)
    {
        if (column < shape.N)
            c[index] = shape.Accumulate ? c[index] + value : value;
    }

    static void SumSplitsKernel(Index1D i, ArrayView<float> c, ArrayView<float> partials, long size, int splits, int accumulate)
    {
        float sum = accumulate != 0 ? c[i] : 0f;
        for (int split = 0; split < splits; split++)
            sum += partials[split * size + i];
        c[i] = sum;
    }
}

/// <summary>The sizes and layout of one multiply, and its split of k (flags as ints: kernel arguments hold no bools).</summary>
internal readonly struct GemmShape(int m, int n, int k, bool transposeA, bool transposeB, int splitDepth, bool accumulate)
{
    public readonly int M = m, N = n, K = k, SplitDepth = splitDepth;
    readonly int transposeA = transposeA ? 1 : 0, transposeB = transposeB ? 1 : 0, accumulate = accumulate ? 1 : 0;

    public bool TransposeA => transposeA != 0;

    public bool TransposeB => transposeB != 0;

    public bool Accumulate => accumulate != 0;
}

/// <summary>Four floats of one thread's row of a register tile.</summary>
internal readonly struct Quad(float x, float y, float z, float w)
{
    public readonly float X = x, Y = y, Z = z, W = w;

    /// <summary>acc + a · b, lane by lane.</summary>
    public static Quad MultiplyAdd(float a, Quad b, Quad acc) =>
        new(acc.X + a * b.X, acc.Y + a * b.Y, acc.Z + a * b.Z, acc.W + a * b.W);
}
