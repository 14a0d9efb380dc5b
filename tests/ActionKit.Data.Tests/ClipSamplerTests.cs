using ActionKit.Data.Loading;

namespace ActionKit.Data.Tests;

/// <summary>mmaction2 SampleFrames (clip_len 8, frame_interval 2 unless stated), indices computed by hand from
/// its formulas and shifted to 0-based.</summary>
public sealed class ClipSamplerTests
{
    private static int[] Test(int frames, int clips) =>
        ClipSampler.FrameIndices(ClipSampler.TestOffsets(frames, 8, 2, clips), frames, 8, 2);

    [Fact]
    public void TestModeCentresOneClipInALongVideo()
    {
        // avg = (100 - 16 + 1) / 1 = 85; offset = int(85 / 2) = 42.
        Assert.Equal([42, 44, 46, 48, 50, 52, 54, 56], Test(100, 1));
    }

    [Fact]
    public void TestModeSpreadsSeveralClips()
    {
        // avg = 85 / 3 = 28.33; offsets int(14.17), int(42.5), int(70.83) = 14, 42, 70.
        Assert.Equal([14, 42, 70], ClipSampler.TestOffsets(100, 8, 2, 3));
    }

    [Fact]
    public void TestModeLoopsAShortVideoFromFrameZero()
    {
        // 10 <= 16 - 1: offset 0; indices 0..14 step 2 wrap modulo 10.
        Assert.Equal([0, 2, 4, 6, 8, 0, 2, 4], Test(10, 1));
        // 16 > 15: avg = 1, offset int(0.5) = 0.
        Assert.Equal([0, 2, 4, 6, 8, 10, 12, 14], Test(16, 1));
    }

    [Fact]
    public void TrainModeDrawsOneOffsetPerSegment()
    {
        var rng = new Xoshiro256(1);
        var seen = new HashSet<int>();
        for (int draw = 0; draw < 3000; draw++)
        {
            // avg = (100 - 16 + 1) // 3 = 28: clip k starts in [28k, 28k + 27].
            int[] offsets = ClipSampler.TrainOffsets(100, 8, 2, 3, rng);
            for (int k = 0; k < 3; k++)
            {
                Assert.InRange(offsets[k], 28 * k, 28 * k + 27);
            }
            seen.Add(offsets[0]);
        }
        Assert.Equal(28, seen.Count);
    }

    [Fact]
    public void TrainModeSortsRandomOffsetsWhenSegmentsAreEmpty()
    {
        var rng = new Xoshiro256(2);
        for (int draw = 0; draw < 200; draw++)
        {
            // avg = 2 // 4 = 0 and 17 > max(4, 16): sort(randint(2, size=4)).
            int[] offsets = ClipSampler.TrainOffsets(17, 8, 2, 4, rng);
            Assert.Equal(offsets.Order(), offsets);
            Assert.All(offsets, offset => Assert.InRange(offset, 0, 1));
        }
    }

    [Fact]
    public void TrainModeUsesEvenRatiosOrZerosForShortVideos()
    {
        var rng = new Xoshiro256(3);
        // avg = 1 // 4 = 0, 16 is not > 16: round(arange(4) * 0.25) with numpy's half-to-even = 0, 0, 0, 1.
        Assert.Equal([0, 0, 0, 1], ClipSampler.TrainOffsets(16, 8, 2, 4, rng));
        // avg = -5: zeros, then the clip loops.
        int[] offsets = ClipSampler.TrainOffsets(10, 8, 2, 1, rng);
        Assert.Equal([0, 2, 4, 6, 8, 0, 2, 4], ClipSampler.FrameIndices(offsets, 10, 8, 2));
        // avg = -1 // 3 = -1 with Python's floor division (truncation would give 0 and negative ratios): zeros.
        Assert.Equal([0, 0, 0], ClipSampler.TrainOffsets(14, 8, 2, 3, rng));
    }
}
