using ActionKit.Kernels.Gpu;

namespace ActionKit.Kernels.Tests.Gpu;

public unsafe class ConvolutionGpuTests(GpuFixture gpu) : IClassFixture<GpuFixture>
{
    /// <summary>X3D's depthwise shapes (3x3x3 pad 1 at stride 1 and spatial stride 2, the 5x1x1 temporal kernel),
    /// channel counts that are not multiples of the 32-channel tile, odd sizes, and uneven kernels, strides and pads.</summary>
    public static TheoryData<ConvGeometry> DepthwiseGeometries => new()
    {
        new(1, 3, 6, 9, 24, 24, 3, 3, 3, PadDepth: 1, PadHeight: 1, PadWidth: 1),
        new(1, 2, 9, 7, 37, 37, 3, 3, 3, StrideHeight: 2, StrideWidth: 2, PadDepth: 1, PadHeight: 1, PadWidth: 1),
        new(2, 5, 3, 4, 5, 5, 5, 1, 1, PadDepth: 2),
        new(1, 5, 6, 7, 3, 3, 2, 3, 1, 2, 1, 3, 0, 1, 0),
    };

    [Theory]
    [MemberData(nameof(DepthwiseGeometries))]
    public void DepthwiseMatchesCpu(ConvGeometry g)
    {
        var random = new Random(g.GetHashCode());
        var (input, weight, dOutput) = (TestArrays.Random(random, g.InputLength), TestArrays.Random(random, (long)g.InChannels * g.KernelVolume), TestArrays.Random(random, g.OutputLength));
        var dWeightStart = TestArrays.Random(random, weight.Length);
        var (wantOutput, wantDInput, wantDWeight) = (new float[g.OutputLength], new float[g.InputLength], (float[])dWeightStart.Clone());
        fixed (float* o = wantOutput, di = wantDInput, dw = wantDWeight, x = input, w = weight, dy = dOutput)
        {
            Cpu.DepthwiseConv3d.Forward(o, x, w, g);
            Cpu.DepthwiseConv3d.BackwardInput(di, dy, w, g);
            Cpu.DepthwiseConv3d.BackwardWeight(dw, dy, x, g);
        }
        var (output, dInput, dWeight) = (gpu.Upload(TestArrays.Stale(g.OutputLength)), gpu.Upload(TestArrays.Stale(g.InputLength)), gpu.Upload(dWeightStart));
        var (inputView, weightView, dOutputView) = (gpu.Upload(input), gpu.Upload(weight), gpu.Upload(dOutput));
        DepthwiseConv3d.Forward(gpu.Kernels, output, inputView, weightView, g);
        DepthwiseConv3d.BackwardInput(gpu.Kernels, dInput, dOutputView, weightView, g);
        DepthwiseConv3d.BackwardWeight(gpu.Kernels, dWeight, dOutputView, inputView, g);
        TestArrays.AssertClose(wantOutput, GpuFixture.Download(output), $"forward {g}", 1e-5);
        TestArrays.AssertClose(wantDInput, GpuFixture.Download(dInput), $"backward-input {g}");
        TestArrays.AssertClose(wantDWeight, GpuFixture.Download(dWeight), $"backward-weight {g}");
    }

    /// <summary>X3D's stem (1x3x3, spatial stride 2, RGB in) at an odd size, and a 3x3x3 conv with uneven strides.</summary>
    public static TheoryData<ConvGeometry> DenseGeometries => new()
    {
        new(2, 2, 7, 9, 3, 24, 1, 3, 3, StrideHeight: 2, StrideWidth: 2, PadHeight: 1, PadWidth: 1),
        new(1, 4, 5, 5, 5, 7, 3, 3, 3, 2, 1, 2, 1, 1, 0),
    };

    [Theory]
    [MemberData(nameof(DenseGeometries))]
    public void Conv3dMatchesCpu(ConvGeometry g)
    {
        var random = new Random(g.GetHashCode());
        long weights = (long)g.OutChannels * g.InChannels * g.KernelVolume;
        var (input, weight, dOutput) = (TestArrays.Random(random, g.InputLength), TestArrays.Random(random, weights), TestArrays.Random(random, g.OutputLength));
        var dWeightStart = TestArrays.Random(random, weights);
        var (wantOutput, wantDInput, wantDWeight) = (new float[g.OutputLength], new float[g.InputLength], (float[])dWeightStart.Clone());
        fixed (float* o = wantOutput, di = wantDInput, dw = wantDWeight, x = input, w = weight, dy = dOutput)
        {
            Cpu.Conv3d.Forward(o, x, w, g);
            Cpu.Conv3d.BackwardInput(di, dy, w, g);
            Cpu.Conv3d.BackwardWeight(dw, dy, x, g);
        }
        var (output, dInput, dWeight) = (gpu.Upload(TestArrays.Stale(g.OutputLength)), gpu.Upload(TestArrays.Stale(g.InputLength)), gpu.Upload(dWeightStart));
        var (inputView, weightView, dOutputView) = (gpu.Upload(input), gpu.Upload(weight), gpu.Upload(dOutput));
        Conv3d.Forward(gpu.Kernels, output, inputView, weightView, g);
        Conv3d.BackwardInput(gpu.Kernels, dInput, dOutputView, weightView, g);
        Conv3d.BackwardWeight(gpu.Kernels, dWeight, dOutputView, inputView, g);
        TestArrays.AssertClose(wantOutput, GpuFixture.Download(output), $"forward {g}", 1e-5);
        TestArrays.AssertClose(wantDInput, GpuFixture.Download(dInput), $"backward-input {g}");
        TestArrays.AssertClose(wantDWeight, GpuFixture.Download(dWeight), $"backward-weight {g}");
    }
}
