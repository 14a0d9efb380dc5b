namespace ActionKit.Data.Loading;

/// <summary>The one preprocessing definition shared by training, evaluation and every exported runtime (the
/// template's <c>data:</c> section): mmaction2's SampleFrames, short-side resize, RandomResizedCrop + flip for
/// training, centre crop (or three crops) for testing, then (x - mean) / std per RGB channel.</summary>
/// <param name="ClipLength">Frames per clip (T).</param>
/// <param name="FrameInterval">Step between sampled frames.</param>
/// <param name="NumClips">Clips sampled per video.</param>
/// <param name="ShortSide">Frames are first resized so their short side has this length.</param>
/// <param name="CropSize">Training crops are resized to CropSize x CropSize.</param>
/// <param name="TestCropSize">Side of the centre (or three) crops at test time.</param>
/// <param name="AreaRange">RandomResizedCrop's range of crop area as a fraction of the frame.</param>
/// <param name="AspectRatioRange">RandomResizedCrop's range of crop width / height (sampled log-uniformly).</param>
/// <param name="FlipRatio">Probability of a horizontal flip of a training clip.</param>
/// <param name="Mean">Per-channel mean, RGB, in pixel units (0-255).</param>
/// <param name="Std">Per-channel standard deviation, RGB, in pixel units.</param>
/// <param name="TestCrops">1 (centre crop) or 3 (mmaction2's ThreeCrop along the long side).</param>
public sealed record ClipPreprocessing(
    int ClipLength,
    int FrameInterval,
    int NumClips,
    int ShortSide,
    int CropSize,
    int TestCropSize,
    (double Min, double Max) AreaRange,
    (double Min, double Max) AspectRatioRange,
    double FlipRatio,
    IReadOnlyList<float> Mean,
    IReadOnlyList<float> Std,
    int TestCrops = 1)
{
    /// <summary>Views one video yields: NumClips when training, NumClips x TestCrops when testing.</summary>
    public int ViewsPerVideo(ClipMode mode) => mode == ClipMode.Train ? NumClips : NumClips * TestCrops;

    /// <summary>Side of the square frames a view holds in <paramref name="mode"/>.</summary>
    public int OutputSize(ClipMode mode) => mode == ClipMode.Train ? CropSize : TestCropSize;

    /// <summary>The part of a <paramref name="width"/> x <paramref name="height"/> source frame that a centre-crop test
    /// view shows, in source pixels: the short-side resize and the centre crop, mapped back.</summary>
    public BoundingBox CentreCropInSource(int width, int height)
    {
        (int resizedWidth, int resizedHeight) = FrameTransforms.ShortSideSize(width, height, ShortSide);
        CropBox crop = FrameTransforms.CenterCrop(resizedWidth, resizedHeight, TestCropSize);
        double scaleX = width / (double)resizedWidth, scaleY = height / (double)resizedHeight;
        return new BoundingBox(crop.X * scaleX, crop.Y * scaleY, (crop.X + crop.Width) * scaleX, (crop.Y + crop.Height) * scaleY);
    }

    /// <summary>Throws an <see cref="ArgumentException"/> naming the first field out of range.</summary>
    public void Validate()
    {
        Require(ClipLength >= 1 && FrameInterval >= 1 && NumClips >= 1,
            "clip length, frame interval and clip count must be at least 1");
        Require(ShortSide >= 1 && CropSize >= 1, "short side and crop size must be at least 1");
        Require(TestCropSize >= 1 && TestCropSize <= ShortSide,
            $"test crop size {TestCropSize} must be between 1 and the short side {ShortSide}");
        Require(AreaRange.Min > 0 && AreaRange.Min <= AreaRange.Max && AreaRange.Max <= 1,
            $"area range {AreaRange} must lie in (0, 1]");
        Require(AspectRatioRange.Min > 0 && AspectRatioRange.Min <= AspectRatioRange.Max,
            $"aspect ratio range {AspectRatioRange} must be positive and ordered");
        Require(FlipRatio is >= 0 and <= 1, $"flip ratio {FlipRatio} must lie in [0, 1]");
        Require(Mean.Count == 3 && Std.Count == 3 && Std.All(s => s != 0), "mean and std need 3 values (RGB), std non-zero");
        Require(TestCrops is 1 or 3, $"test crops must be 1 or 3, got {TestCrops}");
    }

    private static void Require(bool condition, string message)
    {
        if (!condition)
        {
            throw new ArgumentException($"clip preprocessing: {message}");
        }
    }
}

/// <summary>Training (random offsets, random crop and flip) or testing (centred clips, centre or three crops).</summary>
public enum ClipMode
{
    Train,
    Test,
}
