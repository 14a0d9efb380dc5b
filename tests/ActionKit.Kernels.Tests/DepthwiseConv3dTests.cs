using ActionKit.Kernels.Cpu;

namespace ActionKit.Kernels.Tests;

public unsafe class DepthwiseConv3dTests
{
    /// <summary>X3D's two depthwise shapes (3x3x3 pad 1, stride 1 and 2; the stem's 5x1x1 pad (2,0,0)), channel
    /// counts that no vector width divides or that are below every width, batch 1, odd sizes, kernels wider than
    /// the input, uneven kernels, strides and pads, and a 1x1 row strided by 2 (X3D's last stage at a 16-pixel crop).</summary>
    public static TheoryData<ConvGeometry> Geometries => new()
    {
        new(2, 4, 6, 5, 24, 24, 3, 3, 3, PadDepth: 1, PadHeight: 1, PadWidth: 1),
        new(1, 3, 9, 7, 54, 54, 3, 3, 3, StrideHeight: 2, StrideWidth: 2, PadDepth: 1, PadHeight: 1, PadWidth: 1),
        new(2, 6, 3, 4, 24, 24, 5, 1, 1, PadDepth: 2),
        new(1, 2, 5, 5, 108, 108, 3, 3, 3, PadDepth: 1, PadHeight: 1, PadWidth: 1),
        new(1, 5, 4, 6, 13, 13, 3, 3, 3, 2, 2, 2, 1, 1, 1),
        new(2, 3, 3, 3, 3, 3, 3, 3, 3, PadDepth: 1, PadHeight: 1, PadWidth: 1),
        new(1, 1, 1, 2, 20, 20, 3, 3, 3, 1, 1, 2, 1, 1, 1),
        new(1, 5, 6, 7, 17, 17, 2, 3, 1, 2, 1, 3, 0, 1, 0),
        new(2, 4, 1, 1, 72, 72, 3, 3, 3, 1, 2, 2, 1, 1, 1),
    };

    [Theory]
    [MemberData(nameof(Geometries))]
    public void AllPassesMatchReferenceAtEveryWidth(ConvGeometry g)
    {
        var random = new Random(g.GetHashCode());
        var (input, weight, dOutput) = (TestArrays.Random(random, g.InputLength), TestArrays.Random(random, (long)g.InChannels * g.KernelVolume), TestArrays.Random(random, g.OutputLength));
        var dWeightStart = TestArrays.Random(random, weight.Length);
        var (wantOutput, wantDInput, wantDWeight) = (new float[g.OutputLength], new float[g.InputLength], (float[])dWeightStart.Clone());
        Reference.DepthwiseForward(wantOutput, input, weight, g);
        Reference.DepthwiseBackwardInput(wantDInput, dOutput, weight, g);
        Reference.DepthwiseBackwardWeight(wantDWeight, dOutput, input, g);
        TestArrays.AssertConvolutionAtEveryWidth(g, wantOutput, wantDInput, wantDWeight, dWeightStart,
            (output, dInput, dWeight) => RunAll(output, dInput, dWeight, input, weight, dOutput, g));
    }

    [Fact]
    public void RandomGeometriesMatchReference()
    {
        var random = new Random(77);
        for (int trial = 0; trial < 40; trial++)
        {
            int kd = 1 + random.Next(3), kh = 1 + random.Next(3), kw = 1 + random.Next(3), c = 1 + random.Next(40);
            int pd = random.Next(kd), ph = random.Next(kh), pw = random.Next(kw);
            var g = new ConvGeometry(1 + random.Next(2), Math.Max(1, kd - 2 * pd) + random.Next(4), Math.Max(1, kh - 2 * ph) + random.Next(5),
                Math.Max(1, kw - 2 * pw) + random.Next(6), c, c, kd, kh, kw, 1 + random.Next(2), 1 + random.Next(2), 1 + random.Next(3), pd, ph, pw);
            var (input, weight, dOutput) = (TestArrays.Random(random, g.InputLength), TestArrays.Random(random, (long)c * g.KernelVolume), TestArrays.Random(random, g.OutputLength));
            var (wantOutput, wantDInput, wantDWeight) = (new float[g.OutputLength], new float[g.InputLength], new float[weight.Length]);
            Reference.DepthwiseForward(wantOutput, input, weight, g);
            Reference.DepthwiseBackwardInput(wantDInput, dOutput, weight, g);
            Reference.DepthwiseBackwardWeight(wantDWeight, dOutput, input, g);
            var (output, dInput, dWeight) = (new float[g.OutputLength], new float[g.InputLength], new float[weight.Length]);
            TestArrays.With(TestArrays.Widths[random.Next(TestArrays.Widths.Length)], 2, () => RunAll(output, dInput, dWeight, input, weight, dOutput, g));
            TestArrays.AssertClose(wantOutput, output, $"trial {trial} forward {g}");
            TestArrays.AssertClose(wantDInput, dInput, $"trial {trial} backward-input {g}");
            TestArrays.AssertClose(wantDWeight, dWeight, $"trial {trial} backward-weight {g}");
        }
    }

    [Fact]
    public void ResultBitsDoNotDependOnRunOrThreadCount()
    {
        var g = new ConvGeometry(2, 4, 10, 9, 54, 54, 3, 3, 3, StrideHeight: 2, PadDepth: 1, PadHeight: 1, PadWidth: 1);
        var random = new Random(3);
        var (input, weight, dOutput) = (TestArrays.Random(random, g.InputLength), TestArrays.Random(random, (long)g.InChannels * g.KernelVolume), TestArrays.Random(random, g.OutputLength));
        float[][] Run(int threads)
        {
            var (output, dInput, dWeight) = (new float[g.OutputLength], new float[g.InputLength], new float[weight.Length]);
            TestArrays.With(16, threads, () => RunAll(output, dInput, dWeight, input, weight, dOutput, g));
            return [output, dInput, dWeight];
        }
        var first = Run(2);
        Assert.Equal(first, Run(2));
        Assert.Equal(first, Run(1));
    }

    [Fact]
    public void RejectsAChangeOfChannelCount()
    {
        var g = new ConvGeometry(1, 2, 2, 2, 4, 8, 1, 1, 1);
        var data = new float[64];
        var error = Assert.Throws<ArgumentException>(() => RunAll(data, data, data, data, data, data, g));
        Assert.Contains("channel", error.Message);
    }

    static void RunAll(float[] output, float[] dInput, float[] dWeight, float[] input, float[] weight, float[] dOutput, ConvGeometry g)
    {
        fixed (float* po = output, pdi = dInput, pdw = dWeight, pi = input, pw = weight, pdo = dOutput)
        {
            DepthwiseConv3d.Forward(po, pi, pw, g);
            DepthwiseConv3d.BackwardInput(pdi, pdo, pw, g);
            DepthwiseConv3d.BackwardWeight(pdw, pdo, pi, g);
        }
    }
}
