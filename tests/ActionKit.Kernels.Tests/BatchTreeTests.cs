using ActionKit.Kernels.Cpu;

namespace ActionKit.Kernels.Tests;

/// <summary>
/// The batch sums of training (weight and bias gradients; BatchNorm's are in the engine's SyncBatchNormTests) in
/// <see cref="BatchTree"/> order: a batch of 8 clips gives, bit for bit, the sum of what its two halves of 4 give,
/// which is what lets 2 data-parallel ranks compute one process's gradients exactly. Every vector width.
/// </summary>
public sealed unsafe class BatchTreeTests
{
    const int Clips = 8, Half = Clips / 2;

    [Theory]
    [InlineData(2, 1)]
    [InlineData(3, 2)]
    [InlineData(4, 2)]
    [InlineData(5, 4)]
    [InlineData(8, 4)]
    [InlineData(9, 8)]
    public void A_range_splits_at_the_largest_power_of_two_below_its_length(int count, int split) =>
        Assert.Equal(split, BatchTree.Split(count));

    [Fact]
    public void The_tree_adds_pairs_first()
    {
        // In float, 1e8 + 1 = 1e8: a left fold ((1e8 + 1) - 1e8) + 1 gives 1, the tree (1e8 + 1) + (-1e8 + 1) gives 0.
        float[] values = [1e8f, 1f, -1e8f, 1f];
        BatchTree.Sum<float>(values, 1, 4);
        Assert.Equal(0f, values[0]);
    }

    [Fact]
    public void Bias_gradient_of_a_batch_is_the_sum_of_its_halves()
    {
        const int rowsPerClip = 1500, channels = 37; // 1500 rows: two chunks per clip, the second one short
        var dy = TestArrays.Random(new Random(1), (long)Clips * rowsPerClip * channels);
        AssertHalvesAddUp(channels, (gradient, first, clips) =>
        {
            fixed (float* pg = gradient, pdy = dy)
                Bias.Backward(pg, pdy + (long)first * rowsPerClip * channels, (long)clips * rowsPerClip, channels, clips);
        });
    }

    [Theory]
    [InlineData(24, 24, true)]   // the depthwise 3x3x3 of X3D's blocks, stride 2 in space
    [InlineData(3, 24, false)]   // the stem's 1x3x3 convolution
    public void Convolution_weight_gradient_of_a_batch_is_the_sum_of_its_halves(int inChannels, int outChannels, bool depthwise)
    {
        var whole = depthwise
            ? new ConvGeometry(Clips, 4, 9, 11, inChannels, outChannels, 3, 3, 3, 1, 2, 2, 1, 1, 1)
            : new ConvGeometry(Clips, 4, 9, 11, inChannels, outChannels, 1, 3, 3, 1, 2, 2, 0, 1, 1);
        var half = whole with { Batch = Half };
        var random = new Random(2);
        var (input, dOutput) = (TestArrays.Random(random, whole.InputLength), TestArrays.Random(random, whole.OutputLength));
        int weightLength = outChannels * (depthwise ? 1 : inChannels) * whole.KernelVolume;
        AssertHalvesAddUp(weightLength, (gradient, first, clips) =>
        {
            var g = clips == Clips ? whole : half;
            fixed (float* pg = gradient, pi = input, pdo = dOutput)
            {
                float* x = pi + (long)first * half.InputLength / Half, dy = pdo + (long)first * half.OutputLength / Half;
                if (depthwise)
                    DepthwiseConv3d.BackwardWeight(pg, dy, x, g);
                else
                    Conv3d.BackwardWeight(pg, dy, x, g);
            }
        });
    }

    [Theory]
    [InlineData(300, 40, 29)] // a pointwise convolution: deep rows per clip (Gemm splits the depth)
    [InlineData(1, 192, 96)]  // a fully connected layer: one row per clip
    public void Linear_weight_gradient_of_a_batch_is_the_sum_of_its_halves(int rowsPerClip, int outputs, int inputs)
    {
        var random = new Random(3);
        var (dy, x) = (TestArrays.Random(random, (long)Clips * rowsPerClip * outputs), TestArrays.Random(random, (long)Clips * rowsPerClip * inputs));
        AssertHalvesAddUp(outputs * inputs, (gradient, first, clips) =>
        {
            fixed (float* pg = gradient, pdy = dy, px = x)
                Gemm.MultiplyTransposedAByClip(pg, pdy + (long)first * rowsPerClip * outputs, px + (long)first * rowsPerClip * inputs,
                    outputs, inputs, clips * rowsPerClip, clips);
        });
    }

    // accumulate(gradient, first clip, clip count) adds the clips' gradient to a zeroed one: the whole batch once,
    // then each half on its own; whole == first half + second half in float, bit for bit, at every width.
    static void AssertHalvesAddUp(int length, Action<float[], int, int> accumulate)
    {
        foreach (int width in TestArrays.Widths)
        {
            var (whole, first, second) = (new float[length], new float[length], new float[length]);
            TestArrays.With(width, 2, () =>
            {
                accumulate(whole, 0, Clips);
                accumulate(first, 0, Half);
                accumulate(second, Half, Half);
            });
            float[] halves = [.. first.Zip(second, (a, b) => a + b)];
            int differing = Enumerable.Range(0, length).Count(i => BitConverter.SingleToInt32Bits(whole[i]) != BitConverter.SingleToInt32Bits(halves[i]));
            Assert.True(differing == 0, $"width {width}: {differing} of {length} values differ from the sum of the halves");
        }
    }
}
