using ILGPU;

namespace ActionKit.Kernels.Gpu;

/// <summary>
/// Depthwise 3-D convolution (groups = channels, no bias) on channels-last tensors, the twin of
/// <see cref="Cpu.DepthwiseConv3d"/>; weights in PyTorch's layout [C, 1, kD, kH, kW] = [C, taps].
/// </summary>
/// <remarks>
/// Forward and backward-data are one scheme, tiled over a spatial block and channels. A group of 256 threads owns
/// 32 channels x a block of 4 rows x 8 columns of target positions at one depth (target = output going forward,
/// input going back): the thread of channel c and column x computes the 4 rows of (x, c). The group stages its 32
/// channels' taps in shared memory once, then, for each depth tap, the slice of source positions the block reads
/// (one row of 32 channels is one 128-byte load per warp), so each source value comes from global memory once per
/// depth tap instead of once per tap that reads it. Channels are innermost, so shared memory is read without bank
/// conflicts. Backward-data gathers: for each input position, the output positions whose taps reach it.
/// The weight gradient sums dOutput · input over every position, deterministically: one thread per (channel, tap,
/// chunk of positions) sums its chunk in order, then a second pass adds the chunks in order.
/// </remarks>
public static class DepthwiseConv3d
{
    const int Channels = 32;
    const int Columns = GpuKernels.GroupSize / Channels;
    const int Rows = 4;
    /// <summary>Largest kernel volume the shared tap table holds (X3D: 27 for 3x3x3, 5 for the stem's 5x1x1).</summary>
    public const int MaxTaps = 64;
    /// <summary>Largest source slice a block stages, in positions (3x3 stride 2: 9 x 17).</summary>
    const int MaxSlice = 256;
    const int PositionsPerChunk = 512;

    /// <summary>output [N, oD, oH, oW, C] = input [N, D, H, W, C] ⊛ weight [C, taps].</summary>
    public static void Forward(GpuKernels gpu, ArrayView<float> output, ArrayView<float> input, ArrayView<float> weight, in ConvGeometry g)
    {
        var tiles = DepthwiseTiles.Create(g, g.OutDepth, g.OutHeight, g.OutWidth,
            (Rows - 1) * g.StrideHeight + g.KernelHeight, (Columns - 1) * g.StrideWidth + g.KernelWidth, "DepthwiseConv3d.Forward");
        gpu.LaunchGrouped(ForwardKernel, GpuKernels.Groups(tiles.Groups, "DepthwiseConv3d.Forward"), output, input, weight, g, tiles);
    }

    /// <summary>dInput [N, D, H, W, C] = dOutput ⊛ᵀ weight (overwritten).</summary>
    public static void BackwardInput(GpuKernels gpu, ArrayView<float> dInput, ArrayView<float> dOutput, ArrayView<float> weight, in ConvGeometry g)
    {
        // A block of Rows input rows is reached from at most (Rows - 1 + kH - 1) / sH + 2 output rows.
        var tiles = DepthwiseTiles.Create(g, g.InDepth, g.InHeight, g.InWidth,
            (Rows + g.KernelHeight - 2) / g.StrideHeight + 2, (Columns + g.KernelWidth - 2) / g.StrideWidth + 2, "DepthwiseConv3d.BackwardInput");
        gpu.LaunchGrouped(BackwardInputKernel, GpuKernels.Groups(tiles.Groups, "DepthwiseConv3d.BackwardInput"), dInput, dOutput, weight, g, tiles);
    }

    /// <summary>dWeight [C, taps] += Σ dOutput · input (accumulated).</summary>
    public static void BackwardWeight(GpuKernels gpu, ArrayView<float> dWeight, ArrayView<float> dOutput, ArrayView<float> input, in ConvGeometry g)
    {
        DepthwiseTiles.Check(g, "DepthwiseConv3d.BackwardWeight");
        long positions = g.OutputLength / g.OutChannels, weights = (long)g.InChannels * g.KernelVolume;
        int chunks = (int)((positions + PositionsPerChunk - 1) / PositionsPerChunk);
        var partials = gpu.Scratch(GpuScratch.Partials, chunks * weights);
        long groups = (long)chunks * ((g.KernelVolume + Columns - 1) / Columns) * ((g.InChannels + Channels - 1) / Channels);
        gpu.LaunchGrouped(WeightPartialsKernel, GpuKernels.Groups(groups, "DepthwiseConv3d.BackwardWeight"), partials, dOutput, input, g, positions);
        gpu.Launch(WeightSumKernel, GpuKernels.Extent(weights, "DepthwiseConv3d.BackwardWeight"), dWeight, partials, weights, chunks);
    }

    static void ForwardKernel(ArrayView<float> output, ArrayView<float> input, ArrayView<float> weight, ConvGeometry g, DepthwiseTiles tiles)
    {
        var taps = SharedMemory.Allocate<float>(MaxTaps * Channels);
        var slice = SharedMemory.Allocate<float>(MaxSlice * Channels);
        var block = tiles.Locate();
        int lane = Group.IdxX % Channels, column = Group.IdxX / Channels, c = block.Channel0 + lane;
        StageTaps(taps, weight, g, c);
        int sourceRow0 = block.Y0 * g.StrideHeight - g.PadHeight, sourceColumn0 = block.X0 * g.StrideWidth - g.PadWidth;
        int rowStep = g.StrideHeight * tiles.SliceColumns * Channels;
        float sum0 = 0, sum1 = 0, sum2 = 0, sum3 = 0;
        for (int kd = 0; kd < g.KernelDepth; kd++)
        {
            int id = block.Z * g.StrideDepth - g.PadDepth + kd;
            if (id < 0 || id >= g.InDepth)
                continue; // the same for the whole group
            Group.Barrier(); // the previous slice has been read
            StageSlice(slice, input, tiles, block.N, id, sourceRow0, sourceColumn0, g.InDepth, g.InHeight, g.InWidth, c);
            Group.Barrier();
            for (int kh = 0; kh < g.KernelHeight; kh++)
                for (int kw = 0; kw < g.KernelWidth; kw++)
                {
                    float w = taps[((kd * g.KernelHeight + kh) * g.KernelWidth + kw) * Channels + lane];
                    int at = (kh * tiles.SliceColumns + column * g.StrideWidth + kw) * Channels + lane;
                    sum0 += w * slice[at];
                    sum1 += w * slice[at + rowStep];
                    sum2 += w * slice[at + 2 * rowStep];
                    sum3 += w * slice[at + 3 * rowStep];
                }
        }
        if (c >= g.InChannels)
            return;
        long plane = ((long)block.N * g.OutDepth + block.Z) * g.OutHeight;
        int x = block.X0 + column;
        Store(output, plane, block.Y0, x, g.OutHeight, g.OutWidth, g.InChannels, c, sum0);
        Store(output, plane, block.Y0 + 1, x, g.OutHeight, g.OutWidth, g.InChannels, c, sum1);
        Store(output, plane, block.Y0 + 2, x, g.OutHeight, g.OutWidth, g.InChannels, c, sum2);
        Store(output, plane, block.Y0 + 3, x, g.OutHeight, g.OutWidth, g.InChannels, c, sum3);
    }

    static void BackwardInputKernel(ArrayView<float> dInput, ArrayView<float> dOutput, ArrayView<float> weight, ConvGeometry g, DepthwiseTiles tiles)
    {
        var taps = SharedMemory.Allocate<float>(MaxTaps * Channels);
        var slice = SharedMemory.Allocate<float>(MaxSlice * Channels);
        var block = tiles.Locate();
        int lane = Group.IdxX % Channels, column = Group.IdxX / Channels, c = block.Channel0 + lane;
        StageTaps(taps, weight, g, c);
        // The slice starts at the first output row and column any tap of the block reaches (floor division).
        int sourceRow0 = FloorDivide(block.Y0 + g.PadHeight - (g.KernelHeight - 1), g.StrideHeight);
        int sourceColumn0 = FloorDivide(block.X0 + g.PadWidth - (g.KernelWidth - 1), g.StrideWidth);
        int x = block.X0 + column;
        float sum0 = 0, sum1 = 0, sum2 = 0, sum3 = 0;
        for (int kd = 0; kd < g.KernelDepth; kd++)
        {
            int t = block.Z + g.PadDepth - kd, od = t / g.StrideDepth;
            if (t < 0 || t % g.StrideDepth != 0 || od >= g.OutDepth)
                continue; // the same for the whole group
            Group.Barrier();
            StageSlice(slice, dOutput, tiles, block.N, od, sourceRow0, sourceColumn0, g.OutDepth, g.OutHeight, g.OutWidth, c);
            Group.Barrier();
            for (int kw = 0; kw < g.KernelWidth; kw++)
            {
                // Offsets from the slice's origin, in source units times the stride: a tap reaches this column only
                // when it is a whole number of strides.
                int u = x + g.PadWidth - kw - sourceColumn0 * g.StrideWidth;
                if (u % g.StrideWidth != 0)
                    continue;
                int sliceColumn = u / g.StrideWidth;
                for (int kh = 0; kh < g.KernelHeight; kh++)
                {
                    float w = taps[((kd * g.KernelHeight + kh) * g.KernelWidth + kw) * Channels + lane];
                    int v = block.Y0 + g.PadHeight - kh - sourceRow0 * g.StrideHeight;
                    sum0 += TapTerm(slice, tiles, v, sliceColumn, g.StrideHeight, lane, w);
                    sum1 += TapTerm(slice, tiles, v + 1, sliceColumn, g.StrideHeight, lane, w);
                    sum2 += TapTerm(slice, tiles, v + 2, sliceColumn, g.StrideHeight, lane, w);
                    sum3 += TapTerm(slice, tiles, v + 3, sliceColumn, g.StrideHeight, lane, w);
                }
            }
        }
        if (c >= g.InChannels)
            return;
        long plane = ((long)block.N * g.InDepth + block.Z) * g.InHeight;
        Store(dInput, plane, block.Y0, x, g.InHeight, g.InWidth, g.InChannels, c, sum0);
        Store(dInput, plane, block.Y0 + 1, x, g.InHeight, g.InWidth, g.InChannels, c, sum1);
        Store(dInput, plane, block.Y0 + 2, x, g.InHeight, g.InWidth, g.InChannels, c, sum2);
        Store(dInput, plane, block.Y0 + 3, x, g.InHeight, g.InWidth, g.InChannels, c, sum3);
    }

    // w · slice[row v / stride] when row offset v is a whole number of strides, else 0.
    static float TapTerm(ArrayView<float> slice, DepthwiseTiles tiles, int v, int sliceColumn, int stride, int lane, float w) =>
        v % stride == 0 ? w * slice[((v / stride) * tiles.SliceColumns + sliceColumn) * Channels + lane] : 0f;

    static int FloorDivide(int a, int b) => a >= 0 ? a / b : -((-a + b - 1) / b);

    // taps [tap, lane] = weight [c, tap]; zeros for the padding channels of the last tile.
    static void StageTaps(ArrayView<float> taps, ArrayView<float> weight, ConvGeometry g, int c)
    {
        int lane = Group.IdxX % Channels;
        for (int tap = Group.IdxX / Channels; tap < g.KernelVolume; tap += Columns)
            taps[tap * Channels + lane] = c < g.InChannels ? weight[(long)c * g.KernelVolume + tap] : 0f;
    }

    // slice [row, column, lane] = source [n, z, row0 + row, column0 + column, c], zero outside the tensor.
    static void StageSlice(ArrayView<float> slice, ArrayView<float> source, DepthwiseTiles tiles, int n, int z, int row0, int column0,
        int depth, int height, int width, int c)
    {
        int lane = Group.IdxX % Channels;
        int channels = tiles.ChannelCount;
        long plane = ((long)n * depth + z) * height;
        for (int t = Group.IdxX / Channels; t < tiles.SliceRows * tiles.SliceColumns; t += Columns)
        {
            int y = row0 + t / tiles.SliceColumns, x = column0 + t % tiles.SliceColumns;
            bool inside = y >= 0 && y < height && x >= 0 && x < width && c < channels;
            slice[t * Channels + lane] = inside ? source[((plane + y) * width + x) * channels + c] : 0f;
        }
    }

    static void Store(ArrayView<float> target, long plane, int y, int x, int height, int width, int channels, int c, float value)
    {
        if (y < height && x < width)
            target[((plane + y) * width + x) * channels + c] = value;
    }

    // partials [chunk, c, tap]: the thread of (channel c, tap) sums its chunk of output positions in order.
    static void WeightPartialsKernel(ArrayView<float> partials, ArrayView<float> dOutput, ArrayView<float> input, ConvGeometry g, long positions)
    {
        int channelTiles = (g.InChannels + Channels - 1) / Channels, tapTiles = (g.KernelVolume + Columns - 1) / Columns;
        int channelTile = Grid.IdxX % channelTiles, tapTile = Grid.IdxX / channelTiles % tapTiles, chunk = Grid.IdxX / (channelTiles * tapTiles);
        int c = channelTile * Channels + Group.IdxX % Channels, tap = tapTile * Columns + Group.IdxX / Channels;
        if (c >= g.InChannels || tap >= g.KernelVolume)
            return;
        int kw = tap % g.KernelWidth, kh = tap / g.KernelWidth % g.KernelHeight, kd = tap / (g.KernelWidth * g.KernelHeight);
        long start = (long)chunk * PositionsPerChunk, end = Math.Min(positions, start + PositionsPerChunk);
        float sum = 0;
        var o = ConvPosition.OfOutput(start, g);
        for (long position = start; position < end; position++, o = o.NextOutput(g))
        {
            long at = o.InputOffset(kd, kh, kw, g);
            if (at >= 0)
                sum += dOutput[position * g.InChannels + c] * input[at * g.InChannels + c];
        }
        partials[((long)chunk * g.InChannels + c) * g.KernelVolume + tap] = sum;
    }

    static void WeightSumKernel(Index1D w, ArrayView<float> dWeight, ArrayView<float> partials, long weights, int chunks)
    {
        double sum = 0;
        for (int chunk = 0; chunk < chunks; chunk++)
            sum += partials[chunk * weights + w];
        dWeight[w] += (float)sum;
    }
}

/// <summary>
/// How a depthwise pass cuts its targets [N, depth, height, width, C] into blocks of 32 channels x 4 rows x 8
/// columns at one depth (one group each), and the size of the source slice a block stages.
/// </summary>
internal readonly struct DepthwiseTiles
{
    public readonly int ChannelCount, ChannelTiles, ColumnTiles, RowTiles, Depth, SliceRows, SliceColumns;
    public readonly long Groups;

    DepthwiseTiles(int channels, int batch, int depth, int height, int width, int sliceRows, int sliceColumns)
    {
        ChannelCount = channels;
        ChannelTiles = (channels + 31) / 32;
        ColumnTiles = (width + 7) / 8;
        RowTiles = (height + 3) / 4;
        Depth = depth;
        SliceRows = sliceRows;
        SliceColumns = sliceColumns;
        Groups = (long)ChannelTiles * ColumnTiles * RowTiles * depth * batch;
    }

    public static DepthwiseTiles Create(in ConvGeometry g, int depth, int height, int width, int sliceRows, int sliceColumns, string operation)
    {
        Check(g, operation);
        if ((long)sliceRows * sliceColumns > 256)
            throw new ArgumentException($"{operation}: a {sliceRows}x{sliceColumns} source slice exceeds the GPU kernel's 256 staged positions (kernel or stride too large): {g}");
        return new DepthwiseTiles(g.InChannels, g.Batch, depth, height, width, sliceRows, sliceColumns);
    }

    public static void Check(in ConvGeometry g, string operation)
    {
        g.Validate();
        if (g.OutChannels != g.InChannels)
            throw new ArgumentException($"{operation}: a depthwise convolution keeps its channel count: {g}");
        if (g.KernelVolume > DepthwiseConv3d.MaxTaps)
            throw new ArgumentException($"{operation}: {g.KernelVolume} taps exceed the GPU kernel's {DepthwiseConv3d.MaxTaps}: {g}");
    }

    /// <summary>This group's block: clip, depth, first row and column, first channel.</summary>
    public DepthwiseBlock Locate()
    {
        int index = Grid.IdxX;
        int channelTile = index % ChannelTiles;
        index /= ChannelTiles;
        int columnTile = index % ColumnTiles;
        index /= ColumnTiles;
        int rowTile = index % RowTiles;
        index /= RowTiles;
        return new DepthwiseBlock(index / Depth, index % Depth, rowTile * 4, columnTile * 8, channelTile * 32);
    }
}

/// <summary>One group's block of targets: clip N, depth Z, rows from Y0, columns from X0, channels from Channel0.</summary>
internal readonly struct DepthwiseBlock(int n, int z, int y0, int x0, int channel0)
{
    public readonly int N = n, Z = z, Y0 = y0, X0 = x0, Channel0 = channel0;
}
