using ActionKit.Kernels.Gpu;

namespace ActionKit.Kernels.Tests.Gpu;

/// <summary>A CPU twin's call on (output, x).</summary>
public unsafe delegate void CpuUnary(float* y, float* x);

public unsafe class ElementwiseGpuTests(GpuFixture gpu) : IClassFixture<GpuFixture>
{
    const int Count = 1037;

    [Fact]
    public void UnaryKernelsMatchCpu()
    {
        var random = new Random(1);
        float[] x = TestArrays.Random(random, Count), dy = TestArrays.Random(random, Count);
        var (xv, dyv) = (gpu.Upload(x), gpu.Upload(dy));
        var k = gpu.Kernels;
        Check((y, xp) => Cpu.Elementwise.Relu(y, xp, Count), y => Elementwise.Relu(k, y, xv, Count));
        Check((y, xp) => Cpu.Elementwise.Sigmoid(y, xp, Count), y => Elementwise.Sigmoid(k, y, xv, Count));
        Check((y, xp) => Cpu.Elementwise.Swish(y, xp, Count), y => Elementwise.Swish(k, y, xv, Count));
        Check((y, xp) => { fixed (float* d = dy) Cpu.Elementwise.ReluBackward(y, d, xp, Count); }, y => Elementwise.ReluBackward(k, y, dyv, xv, Count));
        Check((y, xp) => { fixed (float* d = dy) Cpu.Elementwise.SigmoidBackward(y, d, xp, Count); }, y => Elementwise.SigmoidBackward(k, y, dyv, xv, Count));
        foreach (bool relu in new[] { false, true })
            Check((y, xp) => { fixed (float* d = dy) Cpu.Elementwise.Add(y, xp, d, Count, relu); }, y => Elementwise.Add(k, y, xv, dyv, Count, relu));

        void Check(CpuUnary cpu, Action<ILGPU.ArrayView<float>> device)
        {
            float[] want = TestArrays.Stale(Count);
            fixed (float* w = want, xp = x)
                cpu(w, xp);
            var y = gpu.Upload(TestArrays.Stale(Count));
            device(y);
            TestArrays.AssertClose(want, GpuFixture.Download(y), "elementwise", 1e-5);
        }
    }
}
