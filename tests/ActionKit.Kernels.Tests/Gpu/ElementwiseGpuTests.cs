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

    [Fact]
    public void InPlaceKernelsMatchCpu()
    {
        var random = new Random(2);
        float[] x = TestArrays.Random(random, Count), y = TestArrays.Random(random, Count);
        float[] wantAdded = (float[])y.Clone(), wantScaled = (float[])x.Clone(), wantFilled = TestArrays.Stale(Count);
        fixed (float* wa = wantAdded, ws = wantScaled, wf = wantFilled, xp = x)
        {
            Cpu.Elementwise.AddInPlace(wa, xp, Count);
            Cpu.Elementwise.Scale(ws, 0.37f, Count);
            Cpu.Elementwise.Fill(wf, 1.5f, Count);
        }
        var (added, scaled, filled) = (gpu.Upload(y), gpu.Upload(x.ToArray()), gpu.Upload(TestArrays.Stale(Count)));
        Elementwise.AddInPlace(gpu.Kernels, added, gpu.Upload(x), Count);
        Elementwise.Scale(gpu.Kernels, scaled, 0.37f, Count);
        Elementwise.Fill(gpu.Kernels, filled, 1.5f, Count);
        TestArrays.AssertClose(wantAdded, GpuFixture.Download(added), "add in place", 1e-5);
        TestArrays.AssertClose(wantScaled, GpuFixture.Download(scaled), "scale", 1e-5);
        TestArrays.AssertClose(wantFilled, GpuFixture.Download(filled), "fill", 1e-5);
    }

    /// <summary>Two tensors' squares summed into one device value (more than one chunk), then clipping by that norm.</summary>
    [Theory]
    [InlineData(5f)]
    [InlineData(1000f)]
    public void SumOfSquaresAndClipMatchCpu(float maxNorm)
    {
        var random = new Random(4);
        float[] first = TestArrays.Random(random, 9000), second = TestArrays.Random(random, Count);
        double wantSum;
        fixed (float* a = first, b = second)
            wantSum = Cpu.Elementwise.SumOfSquares(a, first.Length) + Cpu.Elementwise.SumOfSquares(b, Count);
        var total = gpu.Upload(new[] { float.NaN });
        var (firstView, secondView) = (gpu.Upload(first), gpu.Upload(second));
        Elementwise.SumOfSquares(gpu.Kernels, total, firstView, first.Length, accumulate: false);
        Elementwise.SumOfSquares(gpu.Kernels, total, secondView, Count, accumulate: true);
        Elementwise.ClipByNorm(gpu.Kernels, secondView, total, maxNorm, Count);
        TestArrays.AssertClose([(float)wantSum], GpuFixture.Download(total), "sum of squares", 1e-5);
        float scale = (float)Math.Min(1, maxNorm / Math.Sqrt(wantSum));
        TestArrays.AssertClose(second.Select(v => v * scale).ToArray(), GpuFixture.Download(secondView), "clipped", 1e-5);
    }
}
