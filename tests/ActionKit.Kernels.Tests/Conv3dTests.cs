using ActionKit.Kernels.Cpu;

namespace ActionKit.Kernels.Tests;

public unsafe class Conv3dTests
{
    /// <summary>The X3D stem (RGB in, 24 out: the last vector overlaps at width 16), output channels below every
    /// width, and uneven kernels, strides and pads on every axis.</summary>
    public static TheoryData<ConvGeometry> Geometries => new()
    {
        new(2, 2, 9, 8, 3, 24, 1, 3, 3, 1, 2, 2, 0, 1, 1),
        new(1, 3, 7, 6, 2, 3, 3, 2, 3, 2, 1, 2, 1, 0, 1),
        new(2, 4, 5, 9, 5, 17, 2, 3, 3, 1, 2, 3, 1, 1, 2),
        new(1, 2, 3, 3, 16, 1, 1, 1, 1),
    };

    [Theory]
    [MemberData(nameof(Geometries))]
    public void AllPassesMatchReferenceAtEveryWidth(ConvGeometry g)
    {
        var random = new Random(g.GetHashCode());
        long weightLength = (long)g.OutChannels * g.InChannels * g.KernelVolume;
        var (input, weight, dOutput) = (TestArrays.Random(random, g.InputLength), TestArrays.Random(random, weightLength), TestArrays.Random(random, g.OutputLength));
        var dWeightStart = TestArrays.Random(random, weightLength);
        var (wantOutput, wantDInput, wantDWeight) = (new float[g.OutputLength], new float[g.InputLength], (float[])dWeightStart.Clone());
        Reference.Conv3d(wantOutput, wantDInput, wantDWeight, input, weight, dOutput, g);
        TestArrays.AssertConvolutionAtEveryWidth(g, wantOutput, wantDInput, wantDWeight, dWeightStart,
            (output, dInput, dWeight) => RunAll(output, dInput, dWeight, input, weight, dOutput, g));
    }

    [Fact]
    public void ResultBitsDoNotDependOnRunOrThreadCount()
    {
        var g = new ConvGeometry(3, 2, 20, 18, 3, 24, 1, 3, 3, 1, 2, 2, 0, 1, 1);
        var random = new Random(4);
        long weightLength = (long)g.OutChannels * g.InChannels * g.KernelVolume;
        var (input, weight, dOutput) = (TestArrays.Random(random, g.InputLength), TestArrays.Random(random, weightLength), TestArrays.Random(random, g.OutputLength));
        float[][] Run(int threads)
        {
            var (output, dInput, dWeight) = (new float[g.OutputLength], new float[g.InputLength], new float[weightLength]);
            TestArrays.With(16, threads, () => RunAll(output, dInput, dWeight, input, weight, dOutput, g));
            return [output, dInput, dWeight];
        }
        var first = Run(2);
        Assert.Equal(first, Run(2));
        Assert.Equal(first, Run(1));
    }

    static void RunAll(float[] output, float[] dInput, float[] dWeight, float[] input, float[] weight, float[] dOutput, ConvGeometry g)
    {
        fixed (float* po = output, pdi = dInput, pdw = dWeight, pi = input, pw = weight, pdo = dOutput)
        {
            Conv3d.Forward(po, pi, pw, g);
            Conv3d.BackwardInput(pdi, pdo, pw, g);
            Conv3d.BackwardWeight(pdw, pdo, pi, g);
        }
    }
}
