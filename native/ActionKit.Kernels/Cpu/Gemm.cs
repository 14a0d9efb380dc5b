using System.Numerics.Tensors;
using System.Runtime.CompilerServices;

namespace ActionKit.Kernels.Cpu;

/// <summary>Single-precision matrix multiply on row-major, contiguous matrices.</summary>
/// <remarks>
/// A few rows times a transposed b are dot products of contiguous rows. Otherwise op(b) is packed into panels 2
/// vectors wide (the last one 1 vector wide where that suffices, zero-padded) and op(a) is read in place through
/// strides: a register tile of 6 rows x 1 or 2 vectors accumulates over blocks of k and writes its last vector
/// through a mask, so edge tiles cost no more than whole ones. Work is split into chunks of rows and columns, or,
/// when those are too few and k is deep, into chunks of k whose partial products are summed in chunk order. Every
/// chunk boundary depends only on (m, n, k), so results are bit-reproducible.
/// </remarks>
public static unsafe class Gemm
{
    const int TileRows = 6;
    // Shallow enough that a tile's B panel and the A rows it meets stay in L1 while the next tiles reuse them.
    const int DepthBlock = 64;
    const int RowsPerChunk = 16 * TileRows;
    const int ColumnsPerChunk = 256;
    const int MinChunksBeforeDepthSplit = 8;
    const int MinDepthToSplit = 1024;
    const int MaxDotRows = 8;
    const int DotColumnsPerChunk = 64;
    // Enough chunks to share among a few cores; each one writes an m·n partial product that is summed afterwards.
    const int MaxDepthChunks = 8;

    /// <summary>
    /// c[m,n] = (accumulate ? c : 0) + op(a)[m,k] · op(b)[k,n], where op(a) = a stored [m,k], or aᵀ with a stored
    /// [k,m] when <paramref name="transposeA"/>; likewise b stored [k,n], or [n,k] when <paramref name="transposeB"/>.
    /// </summary>
    public static void Multiply(float* c, float* a, float* b, int m, int n, int k,
        bool transposeA, bool transposeB, bool accumulate)
    {
        if (m <= 0 || n <= 0 || k <= 0)
            throw new ArgumentOutOfRangeException(nameof(m), $"Matrix sizes must be positive: m={m}, n={n}, k={k}.");
        var job = new MultiplyJob(new Operands(c, a, b, m, n, k, transposeA, transposeB), accumulate);
        Simd.Run(ref job, int.MaxValue);
    }

    /// <summary>
    /// c [m, n] += aᵀ·b over <paramref name="clips"/> clips of equal length, a [rows, m] and b [rows, n]: each clip's
    /// product alone, then the clips added in <see cref="BatchTree"/> order. The weight gradient of a layer applied to
    /// every row of a batch, summed as data-parallel ranks can sum it exactly.
    /// </summary>
    public static void MultiplyTransposedAByClip(float* c, float* a, float* b, int m, int n, int rows, int clips)
    {
        int rowsPerClip = checked((int)BatchTree.RowsPerClip(rows, clips)), productLength = checked(m * n);
        if (rowsPerClip == 1)
        {
            var outer = new OuterProductsJob(c, a, b, m, n, clips);
            Simd.Run(ref outer, int.MaxValue);
            return;
        }
        float* partials = Scratch.Get(ScratchSlot.ClipPartials, (long)clips * productLength);
        // One clip per chunk (its product computed on that thread), which keeps the cores busy where one clip's
        // product is too small to split.
        CpuParallel.For(clips, clip =>
            Multiply(partials + (long)clip * productLength, a + (long)clip * rowsPerClip * m, b + (long)clip * rowsPerClip * n,
                m, n, rowsPerClip, transposeA: true, transposeB: false, accumulate: false));
        BatchTree.Reduce(partials, productLength, clips, 1);
        var total = new Span<float>(c, productLength);
        TensorPrimitives.Add(total, new ReadOnlySpan<float>(partials, productLength), total);
    }

    // One row per clip (a fully connected layer): c[o, :] += the tree of the clips' products a[clip, o] · b[clip, :],
    // summed in registers a vector of c at a time: the same bits as per-clip products of depth 1 added in the tree,
    // without writing clips partial matrices.
    readonly struct OuterProductsJob(float* c, float* a, float* b, int m, int n, int clips) : ISimdKernel
    {
        const int RowsPerChunk = 16;

        public void Run<TSimd, TVector>() where TSimd : struct, ISimd<TVector> where TVector : struct
        {
            var job = this;
            CpuParallel.For(CpuParallel.ChunkCount(m, RowsPerChunk), job.Rows<TSimd, TVector>);
        }

        void Rows<TSimd, TVector>(int chunk) where TSimd : struct, ISimd<TVector> where TVector : struct
        {
            for (int o = chunk * RowsPerChunk; o < Math.Min(m, (chunk + 1) * RowsPerChunk); o++)
                for (int j = 0; j < n; j += TSimd.Width)
                {
                    int lanes = Math.Min(TSimd.Width, n - j);
                    float* target = c + (long)o * n + j;
                    TVector sum = Tree<TSimd, TVector>(o, j, lanes, 0, clips);
                    if (lanes == TSimd.Width)
                        TSimd.Store(target, TSimd.Add(TSimd.Load(target), sum));
                    else
                        TSimd.StoreFirst(target, TSimd.Add(TSimd.LoadFirst(target, lanes), sum), lanes);
                }
        }

        TVector Tree<TSimd, TVector>(int o, int j, int lanes, int start, int end) where TSimd : struct, ISimd<TVector> where TVector : struct
        {
            if (end - start == 1)
                return TSimd.Multiply(TSimd.Broadcast(a[(long)start * m + o]), TSimd.LoadFirst(b + (long)start * n + j, lanes));
            int middle = start + BatchTree.Split(end - start);
            return TSimd.Add(Tree<TSimd, TVector>(o, j, lanes, start, middle), Tree<TSimd, TVector>(o, j, lanes, middle, end));
        }
    }

    /// <summary>The matrices of one call and the strides that read op(a) and op(b) in place.</summary>
    readonly struct Operands(float* c, float* a, float* b, int m, int n, int k, bool transposeA, bool transposeB)
    {
        public readonly float* C = c, A = a, B = b;
        public readonly int M = m, N = n, K = k;
        // op(a)[i,p] = A[i·ARowStride + p·ADepthStride]; op(b)[p,j] = B[p·BDepthStride + j·BColumnStride].
        public readonly long ARowStride = transposeA ? 1 : k, ADepthStride = transposeA ? m : 1;
        public readonly long BDepthStride = transposeB ? 1 : n, BColumnStride = transposeB ? k : 1;
    }

    readonly struct MultiplyJob(Operands operands, bool accumulate) : ISimdKernel
    {
        public void Run<TSimd, TVector>() where TSimd : struct, ISimd<TVector> where TVector : struct
        {
            int rowChunks = CpuParallel.ChunkCount(operands.M, RowsPerChunk);
            int columnChunks = CpuParallel.ChunkCount(operands.N, ColumnsPerChunk);
            if (operands.M <= MaxDotRows && operands.ADepthStride == 1 && operands.BDepthStride == 1)
                MultiplyDots<TSimd, TVector>(operands, accumulate);
            else if (rowChunks * columnChunks < MinChunksBeforeDepthSplit && operands.K >= MinDepthToSplit)
                MultiplySplitDepth<TSimd, TVector>(operands, accumulate);
            else
                MultiplySplitRows<TSimd, TVector>(operands, accumulate, rowChunks, columnChunks);
        }
    }

    // A few rows of a against b stored [n, k] (a fully connected layer on a small batch): every c[i, j] is a dot
    // product of two contiguous rows, so b is read once and nothing is packed.
    static void MultiplyDots<TSimd, TVector>(Operands x, bool accumulate)
        where TSimd : struct, ISimd<TVector> where TVector : struct
    {
        CpuParallel.For(CpuParallel.ChunkCount(x.N, DotColumnsPerChunk), chunk =>
        {
            int j1 = Math.Min(x.N, (chunk + 1) * DotColumnsPerChunk);
            for (int j = chunk * DotColumnsPerChunk; j < j1; j++)
                for (int i = 0; i < x.M; i++)
                {
                    float dot = Dot<TSimd, TVector>(x.A + (long)i * x.K, x.B + (long)j * x.K, x.K);
                    float* target = x.C + (long)i * x.N + j;
                    *target = accumulate ? *target + dot : dot;
                }
        });
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static float Dot<TSimd, TVector>(float* a, float* b, int length) where TSimd : struct, ISimd<TVector> where TVector : struct
    {
        TVector sum0 = TSimd.Zero, sum1 = TSimd.Zero;
        int p = 0;
        for (; p + 2 * TSimd.Width <= length; p += 2 * TSimd.Width)
        {
            sum0 = TSimd.MultiplyAdd(TSimd.Load(a + p), TSimd.Load(b + p), sum0);
            sum1 = TSimd.MultiplyAdd(TSimd.Load(a + p + TSimd.Width), TSimd.Load(b + p + TSimd.Width), sum1);
        }
        for (; p < length; p += TSimd.Width)
        {
            int lanes = Math.Min(TSimd.Width, length - p);
            sum0 = TSimd.MultiplyAdd(TSimd.LoadFirst(a + p, lanes), TSimd.LoadFirst(b + p, lanes), sum0);
        }
        return TSimd.Sum(TSimd.Add(sum0, sum1));
    }

    // Packs all of op(b) once, then each chunk computes a block of c over the full depth.
    static void MultiplySplitRows<TSimd, TVector>(Operands x, bool accumulate, int rowChunks, int columnChunks)
        where TSimd : struct, ISimd<TVector> where TVector : struct
    {
        int paddedN = PaddedColumns<TSimd, TVector>(x.N);
        float* packed = Scratch.Get(ScratchSlot.CallOperand, (long)x.K * paddedN);
        CpuParallel.For(columnChunks, chunk =>
        {
            int j0 = chunk * ColumnsPerChunk, j1 = Math.Min(x.N, j0 + ColumnsPerChunk);
            for (int p0 = 0; p0 < x.K; p0 += DepthBlock)
                PackB<TSimd, TVector>(packed + (long)p0 * paddedN, x, p0, Math.Min(DepthBlock, x.K - p0), j0, j1);
        });

        CpuParallel.For(rowChunks * columnChunks, chunk =>
        {
            int i0 = chunk / columnChunks * RowsPerChunk, j0 = chunk % columnChunks * ColumnsPerChunk;
            int i1 = Math.Min(x.M, i0 + RowsPerChunk), j1 = Math.Min(x.N, j0 + ColumnsPerChunk);
            for (int p0 = 0; p0 < x.K; p0 += DepthBlock)
                BlockProduct<TSimd, TVector>(x.C, x.N, x, packed + (long)p0 * paddedN, p0, Math.Min(DepthBlock, x.K - p0),
                    i0, i1, j0, j1, accumulate || p0 > 0);
        });
    }

    // For small m·n and deep k (the weight gradient of a pointwise convolution, k = N·D·H·W): each chunk of k
    // writes its own partial product, and the partials are summed in chunk order.
    static void MultiplySplitDepth<TSimd, TVector>(Operands x, bool accumulate)
        where TSimd : struct, ISimd<TVector> where TVector : struct
    {
        int depthPerChunk = DepthBlock * CpuParallel.ChunkCount(CpuParallel.ChunkCount(x.K, MaxDepthChunks), DepthBlock);
        int chunks = CpuParallel.ChunkCount(x.K, depthPerChunk);
        int paddedN = PaddedColumns<TSimd, TVector>(x.N);
        long productLength = (long)x.M * x.N;
        float* partials = Scratch.Get(ScratchSlot.CallPartials, chunks * productLength);

        CpuParallel.For(chunks, chunk =>
        {
            float* packed = Scratch.Get(ScratchSlot.Chunk, (long)DepthBlock * paddedN);
            int chunkStart = chunk * depthPerChunk, chunkEnd = Math.Min(x.K, chunkStart + depthPerChunk);
            for (int p0 = chunkStart; p0 < chunkEnd; p0 += DepthBlock)
            {
                int depth = Math.Min(DepthBlock, chunkEnd - p0);
                PackB<TSimd, TVector>(packed, x, p0, depth, 0, x.N);
                BlockProduct<TSimd, TVector>(partials + chunk * productLength, x.N, x, packed, p0, depth,
                    0, x.M, 0, x.N, p0 > chunkStart);
            }
        });
        Simd.SumChunks<TSimd, TVector>(x.C, partials, productLength, chunks, accumulate);
    }

    // Packed rows are n rounded up to whole vectors: panels of 2 vectors, the last one 1 vector wide where that
    // covers the remaining columns.
    static int PaddedColumns<TSimd, TVector>(int n) where TSimd : struct, ISimd<TVector> where TVector : struct =>
        CpuParallel.ChunkCount(n, TSimd.Width) * TSimd.Width;

    static int PanelWidth<TSimd, TVector>(int j, int n) where TSimd : struct, ISimd<TVector> where TVector : struct =>
        Math.Min(2 * TSimd.Width, PaddedColumns<TSimd, TVector>(n) - j);

    /// <summary>
    /// Copies op(b)[p0 .. p0+depth, j0 .. j1] into its panels: the panel at column j (a multiple of 2 vectors) holds
    /// depth rows of its width, zero-padded past column n, and starts at packed + j·depth.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void PackB<TSimd, TVector>(float* packed, in Operands x, int p0, int depth, int j0, int j1)
        where TSimd : struct, ISimd<TVector> where TVector : struct
    {
        for (int j = j0; j < j1; j += 2 * TSimd.Width)
        {
            int width = PanelWidth<TSimd, TVector>(j, x.N), columns = Math.Min(width, x.N - j);
            float* panel = packed + (long)j * depth;
            for (int p = 0; p < depth; p++)
            {
                float* source = x.B + (p0 + p) * x.BDepthStride + j * x.BColumnStride;
                float* row = panel + p * width;
                if (x.BColumnStride == 1)
                {
                    // Whole vectors, then the zero-padded rest through a masked load.
                    for (int v = 0; v < width; v += TSimd.Width)
                        TSimd.Store(row + v, v < columns ? TSimd.LoadFirst(source + v, Math.Min(TSimd.Width, columns - v)) : TSimd.Zero);
                    continue;
                }
                for (int c = 0; c < columns; c++)
                    row[c] = source[c * x.BColumnStride];
                for (int c = columns; c < width; c++)
                    row[c] = 0f;
            }
        }
    }

    // target[i0..i1, j0..j1] (row stride ldt) = (accumulate ? target : 0) + op(a)[i0..i1, p0..p0+depth] · block,
    // where block is op(b)[p0..p0+depth, all columns] packed by PackB.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void BlockProduct<TSimd, TVector>(float* target, int ldt, in Operands x, float* block, int p0, int depth,
        int i0, int i1, int j0, int j1, bool accumulate)
        where TSimd : struct, ISimd<TVector> where TVector : struct
    {
        for (int j = j0; j < j1; j += 2 * TSimd.Width)
        {
            float* panel = block + (long)j * depth;
            bool wide = PanelWidth<TSimd, TVector>(j, x.N) > TSimd.Width;
            int columns = Math.Min(2 * TSimd.Width, j1 - j);
            for (int i = i0; i < i1; i += TileRows)
            {
                float* tileTarget = target + (long)i * ldt + j, tileA = x.A + i * x.ARowStride + p0 * x.ADepthStride;
                int rows = Math.Min(TileRows, i1 - i);
                if (wide)
                    Tile<TSimd, TVector, On>(tileTarget, ldt, tileA, (nint)x.ARowStride, (nint)x.ADepthStride, panel, depth, rows, columns, accumulate);
                else
                    Tile<TSimd, TVector, Off>(tileTarget, ldt, tileA, (nint)x.ARowStride, (nint)x.ADepthStride, panel, depth, rows, columns, accumulate);
            }
        }
    }

    /// <summary>
    /// The register tile: target[0..rows, 0..columns] (row stride ldt) = (accumulate ? target : 0) + a · panel for
    /// 6 rows of a (element (i, p) at a[i·rowStride + p·depthStride]) and one packed panel, 2 vectors wide when
    /// <typeparamref name="TWide"/> is on, else 1.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Tile<TSimd, TVector, TWide>(float* target, int ldt, float* a, nint rowStride, nint depthStride,
        float* panel, int depth, int rows, int columns, bool accumulate)
        where TSimd : struct, ISimd<TVector> where TVector : struct where TWide : struct, IFlag
    {
        // Rows past the edge re-read the last real row; their sums are computed and dropped.
        nint r1 = Math.Min(1, rows - 1) * rowStride, r2 = Math.Min(2, rows - 1) * rowStride;
        nint r3 = Math.Min(3, rows - 1) * rowStride, r4 = Math.Min(4, rows - 1) * rowStride;
        nint r5 = Math.Min(5, rows - 1) * rowStride;
        int width = TSimd.Width, panelWidth = TWide.IsOn ? 2 * width : width;
        TVector c00 = TSimd.Zero, c01 = TSimd.Zero, c10 = TSimd.Zero, c11 = TSimd.Zero, c20 = TSimd.Zero, c21 = TSimd.Zero;
        TVector c30 = TSimd.Zero, c31 = TSimd.Zero, c40 = TSimd.Zero, c41 = TSimd.Zero, c50 = TSimd.Zero, c51 = TSimd.Zero;
        for (int p = 0; p < depth; p++)
        {
            TVector b0 = TSimd.Load(panel), b1 = TWide.IsOn ? TSimd.Load(panel + width) : TSimd.Zero;
            TVector ai = TSimd.Broadcast(a[0]);
            c00 = TSimd.MultiplyAdd(ai, b0, c00);
            if (TWide.IsOn) c01 = TSimd.MultiplyAdd(ai, b1, c01);
            ai = TSimd.Broadcast(a[r1]);
            c10 = TSimd.MultiplyAdd(ai, b0, c10);
            if (TWide.IsOn) c11 = TSimd.MultiplyAdd(ai, b1, c11);
            ai = TSimd.Broadcast(a[r2]);
            c20 = TSimd.MultiplyAdd(ai, b0, c20);
            if (TWide.IsOn) c21 = TSimd.MultiplyAdd(ai, b1, c21);
            ai = TSimd.Broadcast(a[r3]);
            c30 = TSimd.MultiplyAdd(ai, b0, c30);
            if (TWide.IsOn) c31 = TSimd.MultiplyAdd(ai, b1, c31);
            ai = TSimd.Broadcast(a[r4]);
            c40 = TSimd.MultiplyAdd(ai, b0, c40);
            if (TWide.IsOn) c41 = TSimd.MultiplyAdd(ai, b1, c41);
            ai = TSimd.Broadcast(a[r5]);
            c50 = TSimd.MultiplyAdd(ai, b0, c50);
            if (TWide.IsOn) c51 = TSimd.MultiplyAdd(ai, b1, c51);
            a += depthStride;
            panel += panelWidth;
        }
        // Rows past the tile's end are dropped; the last vector of each row is written through a mask, so the tile
        // never touches memory past its columns.
        int lastCount = columns - (TWide.IsOn ? width : 0);
        StoreRow<TSimd, TVector, TWide>(target, c00, c01, lastCount, accumulate);
        if (rows > 1) StoreRow<TSimd, TVector, TWide>(target + ldt, c10, c11, lastCount, accumulate);
        if (rows > 2) StoreRow<TSimd, TVector, TWide>(target + 2 * ldt, c20, c21, lastCount, accumulate);
        if (rows > 3) StoreRow<TSimd, TVector, TWide>(target + 3 * ldt, c30, c31, lastCount, accumulate);
        if (rows > 4) StoreRow<TSimd, TVector, TWide>(target + 4 * ldt, c40, c41, lastCount, accumulate);
        if (rows > 5) StoreRow<TSimd, TVector, TWide>(target + 5 * ldt, c50, c51, lastCount, accumulate);
    }

    // row[0 .. W + lastCount] (wide) or row[0 .. lastCount] = (accumulate ? row : 0) + the tile row.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void StoreRow<TSimd, TVector, TWide>(float* row, TVector left, TVector right, int lastCount, bool accumulate)
        where TSimd : struct, ISimd<TVector> where TVector : struct where TWide : struct, IFlag
    {
        if (TWide.IsOn)
        {
            TSimd.Store(row, accumulate ? TSimd.Add(TSimd.Load(row), left) : left);
            row += TSimd.Width;
            left = right;
        }
        TSimd.StoreFirst(row, accumulate ? TSimd.Add(TSimd.LoadFirst(row, lastCount), left) : left, lastCount);
    }
}
