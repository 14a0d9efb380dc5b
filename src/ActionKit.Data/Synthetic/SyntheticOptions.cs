namespace ActionKit.Data.Synthetic;

/// <summary>Size and seed of a synthetic dataset. The eight classes are fixed by the design
/// (<see cref="SyntheticDataset.ClassNames"/>); these options control how many videos, how long, how large.</summary>
public sealed record SyntheticOptions
{
    public int VideosPerClass { get; init; } = 80;

    /// <summary>How many of each class's videos go to the val split (the rest are train).</summary>
    public int ValVideosPerClass { get; init; } = 10;

    public int MinFrames { get; init; } = 24;

    public int MaxFrames { get; init; } = 32;

    public int Width { get; init; } = 96;

    public int Height { get; init; } = 72;

    public ulong Seed { get; init; } = 2;

    /// <summary>Also write videos/&lt;class&gt;/&lt;name&gt;.avi and the two _videos.txt split files.</summary>
    public bool Videos { get; init; }

    internal int TrainVideosPerClass => VideosPerClass - ValVideosPerClass;

    internal void Validate()
    {
        Require(VideosPerClass >= 2, $"VideosPerClass must be at least 2, got {VideosPerClass}");
        Require(ValVideosPerClass >= 1 && ValVideosPerClass < VideosPerClass,
            $"ValVideosPerClass must be between 1 and VideosPerClass - 1, got {ValVideosPerClass}");
        Require(MinFrames >= 2 && MinFrames <= MaxFrames,
            $"frame range must satisfy 2 <= MinFrames <= MaxFrames, got {MinFrames}..{MaxFrames}");
        Require(Width >= 16 && Height >= 16, $"frames must be at least 16x16, got {Width}x{Height}");
    }

    private static void Require(bool condition, string message)
    {
        if (!condition)
        {
            throw new ArgumentException(message);
        }
    }
}
