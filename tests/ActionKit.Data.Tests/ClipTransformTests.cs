using ActionKit.Data.Loading;

namespace ActionKit.Data.Tests;

public sealed class ClipTransformTests
{
    internal static ClipPreprocessing Small(ClipMode mode = ClipMode.Test) => new(
        ClipLength: 4, FrameInterval: 2, NumClips: 1, ShortSide: 24, CropSize: 16, TestCropSize: 16,
        AreaRange: (0.5, 1.0), AspectRatioRange: (0.75, 4.0 / 3), FlipRatio: 0.5,
        Mean: [0, 0, 0], Std: [1, 1, 1]);

    internal static RgbFrame Filled(int width, int height, Func<int, int, int, byte> pixel)
    {
        var pixels = new byte[width * height * 3];
        for (int y = 0; y < height; y++)
        {
            for (int x = 0; x < width; x++)
            {
                for (int c = 0; c < 3; c++)
                {
                    pixels[(y * width + x) * 3 + c] = pixel(x, y, c);
                }
            }
        }
        return new RgbFrame(width, height, pixels);
    }

    private static VideoFrames Video(int count, Func<int, int, int, int, byte> pixel, int width = 32, int height = 24) =>
        VideoFrames.FromDecodedFrames("v",
            [.. Enumerable.Range(0, count).Select(t => Filled(width, height, (x, y, c) => pixel(t, x, y, c)))]);

    [Fact]
    public void ShortSideSizeRoundsLikeMmcv()
    {
        Assert.Equal((341, 256), FrameTransforms.ShortSideSize(320, 240, 256));
        Assert.Equal((96, 72), FrameTransforms.ShortSideSize(96, 72, 72));
        Assert.Equal((64, 85), FrameTransforms.ShortSideSize(72, 96, 64));
    }

    [Fact]
    public void BilinearMatchesCv2HalfPixelSampling()
    {
        RgbFrame row = Filled(4, 1, (x, _, _) => (byte)(new[] { 0, 100, 200, 40 })[x]);
        var half = new float[2 * 3];
        FrameTransforms.Bilinear(row, new CropBox(0, 0, 4, 1), 2, 1, half);
        Assert.Equal([50f, 120f], [half[0], half[3]]);
        var doubled = new float[8 * 3];
        FrameTransforms.Bilinear(row, new CropBox(0, 0, 2, 1), 4, 1, doubled);
        Assert.Equal([0f, 25f, 75f, 100f], [doubled[0], doubled[3], doubled[6], doubled[9]]);
        var copy = new float[2 * 3];
        FrameTransforms.Bilinear(row, new CropBox(2, 0, 2, 1), 2, 1, copy);
        Assert.Equal([200f, 40f], [copy[0], copy[3]]);
    }

    [Fact]
    public void CropBoxesFollowMmaction2()
    {
        Assert.Equal(new CropBox(16, 4, 64, 64), FrameTransforms.CenterCrop(96, 72, 64));
        Assert.Equal([new(0, 4, 64, 64), new(32, 4, 64, 64), new(16, 4, 64, 64)], FrameTransforms.ThreeCrop(96, 72, 64));
        Assert.Equal([new(4, 0, 64, 64), new(4, 32, 64, 64), new(4, 16, 64, 64)], FrameTransforms.ThreeCrop(72, 96, 64));
        var rng = new Xoshiro256(5);
        for (int i = 0; i < 500; i++)
        {
            CropBox box = FrameTransforms.RandomResizedCrop(96, 72, (0.5, 1.0), (0.75, 4.0 / 3), rng);
            Assert.True(box.X >= 0 && box.Y >= 0 && box.X + box.Width <= 96 && box.Y + box.Height <= 72, $"{box}");
            Assert.InRange(box.Width * box.Height, 0.5 * 96 * 72 - 100, 96 * 72);
        }
        // No aspect ratio of 10 fits a 96x72 frame at full area: the fallback is the centred short-side square.
        Assert.Equal(new CropBox(12, 0, 72, 72), FrameTransforms.RandomResizedCrop(96, 72, (1, 1), (10, 10), rng));
    }

    [Theory]
    [InlineData(ClipMode.Train)]
    [InlineData(ClipMode.Test)]
    public void ConstantFramesNormaliseToConstants(ClipMode mode)
    {
        ClipPreprocessing preprocessing = Small() with { Mean = [100, 100, 100], Std = [50, 25, 10] };
        VideoFrames video = Video(10, (_, _, _, c) => (byte)(100 + 50 * c));
        var builder = new ClipBuilder(preprocessing, mode, reverseTime: false, cachedVideoLengths: null);
        var output = new float[builder.ValuesPerView];
        builder.Build(0, video, new Xoshiro256(1), output);
        Assert.Equal(4 * 16 * 16 * 3, output.Length);
        for (int i = 0; i < output.Length; i += 3)
        {
            Assert.Equal([0f, 2f, 10f], output[i..(i + 3)]);
        }
    }

    [Fact]
    public void FlipMirrorsTheSameCrop()
    {
        VideoFrames video = Video(12, (t, x, y, c) => (byte)(x * 7 + y * 3 + t + c));
        float[] Build(double flipRatio)
        {
            var builder = new ClipBuilder(Small() with { FlipRatio = flipRatio }, ClipMode.Train, false, null);
            var output = new float[builder.ValuesPerView];
            builder.Build(0, video, new Xoshiro256(9), output);
            return output;
        }
        float[] plain = Build(0), flipped = Build(1);
        for (int t = 0; t < 4; t++)
        {
            for (int y = 0; y < 16; y++)
            {
                for (int x = 0; x < 16; x++)
                {
                    for (int c = 0; c < 3; c++)
                    {
                        Assert.Equal(plain[(((t * 16) + y) * 16 + x) * 3 + c], flipped[(((t * 16) + y) * 16 + 15 - x) * 3 + c]);
                    }
                }
            }
        }
        Assert.NotEqual(plain, flipped);
    }

    [Fact]
    public void TestViewsAreExactCropsOfTheResizedFrame()
    {
        // 48x36 -> short side 24 -> 32x24; centre crop 16 at (8, 4); three crops at x = 0, 16, 8.
        VideoFrames video = Video(20, (t, x, y, c) => (byte)(c == 0 ? x * 5 : c == 1 ? y * 7 : t * 10), 48, 36);
        RgbFrame resized = FrameTransforms.ResizeShortSide(video.Read(0), 24);
        ClipBatch views = ClipLoader.ReadVideo(video, Small() with { TestCrops = 3 });
        Assert.Equal([3, 4, 16, 16, 3], views.Shape);
        int perView = 4 * 16 * 16 * 3;
        foreach ((int view, int left) in new[] { (0, 0), (1, 16), (2, 8) })
        {
            Assert.Equal(resized.Pixels[((4 * 32) + left) * 3], views.Data[view * perView]);
        }
        // Centred clip: avg = (20 - 8 + 1) / 1 = 13, offset int(6.5) = 6: frames 6, 8, 10, 12 (blue = 10 t).
        Assert.Equal([60f, 80f, 100f, 120f], [.. Enumerable.Range(0, 4).Select(t => views.Data[t * 16 * 16 * 3 + 2])]);
        ClipBatch reversed = ClipLoader.ReadVideo(video, Small() with { TestCrops = 3 }, reverseTime: true);
        Assert.Equal([120f, 100f, 80f, 60f], [.. Enumerable.Range(0, 4).Select(t => reversed.Data[t * 16 * 16 * 3 + 2])]);
    }

    [Fact]
    public void InvalidPreprocessingIsRejected()
    {
        Assert.Throws<ArgumentException>(() => (Small() with { TestCropSize = 30 }).Validate());
        Assert.Throws<ArgumentException>(() => (Small() with { Std = [1, 0, 1] }).Validate());
        Assert.Throws<ArgumentException>(() => (Small() with { TestCrops = 2 }).Validate());
        Assert.Throws<ArgumentException>(() => (Small() with { AreaRange = (0, 1) }).Validate());
    }
}
