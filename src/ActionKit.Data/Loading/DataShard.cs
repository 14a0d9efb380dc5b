namespace ActionKit.Data.Loading;

/// <summary>
/// Part <see cref="Index"/> of <see cref="Count"/> of a sequence (a batch, a list of videos): the contiguous range
/// [length·Index/Count, length·(Index+1)/Count), so the parts of all indices cover every item once, in order.
/// </summary>
public readonly record struct DataShard(int Index, int Count)
{
    /// <summary>The whole sequence: part 0 of 1.</summary>
    public static DataShard Whole => new(0, 1);

    public Range Of(int length) => new(length * Index / Count, length * (Index + 1) / Count);
}
