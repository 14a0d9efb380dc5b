namespace ActionKit.Data.Loading;

/// <summary>A batch of preprocessed clips in the engine's channels-last layout: <see cref="Data"/> is
/// [Count, ClipLength, Size, Size, 3] float32 (RGB), one row per view; the views of one video are consecutive.
/// <see cref="Labels"/> and <see cref="VideoIndices"/> (position in the loader's video list) are per row.</summary>
public sealed class ClipBatch(float[] data, int count, int clipLength, int size, int[] labels, int[] videoIndices)
{
    public const int Channels = 3;

    public float[] Data { get; } = data;

    public int Count { get; } = count;

    public int ClipLength { get; } = clipLength;

    /// <summary>Height and width of every frame.</summary>
    public int Size { get; } = size;

    public int[] Labels { get; } = labels;

    public int[] VideoIndices { get; } = videoIndices;

    /// <summary>[N, T, H, W, C].</summary>
    public int[] Shape => [Count, ClipLength, Size, Size, Channels];
}
