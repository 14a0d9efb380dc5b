using System.Text.Json.Serialization;

namespace ActionKit.Data;

/// <summary>An axis-aligned box in a frame's pixel coordinates, measured at pixel edges: the whole W x H frame is
/// (0, 0, W, H), and pixel (x, y) covers [x, x + 1) x [y, y + 1).</summary>
public readonly record struct BoundingBox(double Left, double Top, double Right, double Bottom)
{
    [JsonIgnore]
    public double Width => Right - Left;

    [JsonIgnore]
    public double Height => Bottom - Top;

    [JsonIgnore]
    public bool IsEmpty => Width <= 0 || Height <= 0;

    public bool Contains(double x, double y) => x >= Left && x < Right && y >= Top && y < Bottom;

    /// <summary>This box cut to the W x H frame (possibly empty).</summary>
    public BoundingBox ClipTo(double width, double height) =>
        new(Math.Clamp(Left, 0, width), Math.Clamp(Top, 0, height), Math.Clamp(Right, 0, width), Math.Clamp(Bottom, 0, height));
}

/// <summary>A box on one frame of a video; <paramref name="Frame"/> is the 0-based frame index.</summary>
public readonly record struct FrameBox(int Frame, BoundingBox Box);
