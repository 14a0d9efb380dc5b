using System.Numerics;
using System.Numerics.Tensors;

namespace ActionKit.Kernels.Cpu;

/// <summary>
/// The one order in which training sums over a batch combine: each clip's rows alone (in fixed chunks, added in chunk
/// order), then the clips' sums in a binary tree over clip index that splits a range at the largest power of two
/// below its length. When a batch is split over data-parallel ranks with a power-of-two number of clips each, every
/// rank's clips form a subtree, so ranks that reduce their own clips this way and then add the ranks' results in the
/// same tree over rank index (<see cref="Sum{T}(Span{T}, int, int)"/>) get exactly the bits that one process gets.
/// </summary>
public static unsafe class BatchTree
{
    /// <summary>Where a range of <paramref name="count"/> (at least 2) leaves splits: the largest power of two below it.</summary>
    public static int Split(int count) => 1 << BitOperations.Log2((uint)count - 1);

    /// <summary>The rows of one clip; fails when <paramref name="rows"/> is not a whole number of clips.</summary>
    public static long RowsPerClip(long rows, int clips) =>
        clips > 0 && rows % clips == 0 ? rows / clips : throw new ArgumentException($"{rows} rows are not {clips} clips of equal length.");

    /// <summary>
    /// partials [clips · chunksPerClip, width], each clip's chunks consecutive: leaves in row 0 the sum of each clip's
    /// chunks in chunk order, the clips combined in the tree. The other rows are overwritten.
    /// </summary>
    public static void Reduce<T>(T* partials, int width, int clips, int chunksPerClip) where T : unmanaged, INumber<T>
    {
        long clipStride = (long)chunksPerClip * width;
        if (chunksPerClip > 1)
            CpuParallel.For(clips, clip =>
            {
                var total = new Span<T>(partials + clip * clipStride, width);
                for (int chunk = 1; chunk < chunksPerClip; chunk++)
                    TensorPrimitives.Add(total, new ReadOnlySpan<T>(partials + clip * clipStride + (long)chunk * width, width), total);
            });
        Combine(partials, width, clipStride, 0, clips);
    }

    /// <summary>values [count, width]: leaves the tree's sum of the rows in row 0.</summary>
    public static void Sum<T>(Span<T> values, int width, int count) where T : unmanaged, INumber<T>
    {
        if (values.Length < (long)width * count)
            throw new ArgumentException($"BatchTree.Sum: {values.Length} values hold fewer than {count} rows of {width}.");
        fixed (T* rows = values)
            Combine(rows, width, width, 0, count);
    }

    static void Combine<T>(T* rows, int width, long stride, int start, int end) where T : unmanaged, INumber<T>
    {
        if (end - start < 2)
            return;
        int middle = start + Split(end - start);
        Combine(rows, width, stride, start, middle);
        Combine(rows, width, stride, middle, end);
        var left = new Span<T>(rows + start * stride, width);
        TensorPrimitives.Add(left, new ReadOnlySpan<T>(rows + middle * stride, width), left);
    }
}
