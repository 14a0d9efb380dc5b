namespace ActionKit.Data;

/// <summary>One decoded frame: <see cref="Pixels"/> holds Height x Width x 3 bytes, rows top to bottom,
/// interleaved R, G, B.</summary>
public sealed class RgbFrame
{
    public RgbFrame(int width, int height, byte[] pixels)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        if (pixels.Length != width * height * 3)
        {
            throw new ArgumentException($"a {width}x{height} RGB frame needs {width * height * 3} bytes, got {pixels.Length}",
                nameof(pixels));
        }
        Width = width;
        Height = height;
        Pixels = pixels;
    }

    public int Width { get; }

    public int Height { get; }

    public byte[] Pixels { get; }
}
