using ActionKit.Kernels.Gpu;

namespace ActionKit.Kernels.Tests.Gpu;

public unsafe class GemmGpuTests(GpuFixture gpu) : IClassFixture<GpuFixture>
{
    /// <summary>1x1x1, odd sizes below a tile, and sizes across tile edges (m, n past 64, k past 16).</summary>
    public static TheoryData<int, int, int> Shapes => new() { { 1, 1, 1 }, { 13, 17, 19 }, { 70, 65, 17 } };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void MatchesCpuForEveryTransposeAndAccumulate(int m, int n, int k)
    {
        var random = new Random(m * 7919 + n * 31 + k);
        foreach (bool transposeA in new[] { false, true })
            foreach (bool transposeB in new[] { false, true })
                foreach (bool accumulate in new[] { false, true })
                {
                    var (a, b, c) = (TestArrays.Random(random, (long)m * k), TestArrays.Random(random, (long)k * n), TestArrays.Random(random, (long)m * n));
                    AssertMatchesCpu(a, b, c, m, n, k, transposeA, transposeB, accumulate);
                }
    }

    /// <summary>A weight gradient's shape (aᵀ·b, accumulated, deep k, one tile): k is split, and the split sums the same bits every run.</summary>
    [Fact]
    public void SplitDepthMatchesCpuWithTheSameBitsEveryRun()
    {
        const int m = 9, n = 11, k = 520;
        var random = new Random(3);
        var (a, b, c) = (TestArrays.Random(random, (long)m * k), TestArrays.Random(random, (long)k * n), TestArrays.Random(random, (long)m * n));
        Assert.Equal(AssertMatchesCpu(a, b, c, m, n, k, true, false, true), AssertMatchesCpu(a, b, c, m, n, k, true, false, true));
    }

    float[] AssertMatchesCpu(float[] a, float[] b, float[] c, int m, int n, int k, bool transposeA, bool transposeB, bool accumulate)
    {
        var want = (float[])c.Clone();
        fixed (float* wp = want, ap = a, bp = b)
            Cpu.Gemm.Multiply(wp, ap, bp, m, n, k, transposeA, transposeB, accumulate);
        var got = gpu.Upload(c);
        Gemm.Multiply(gpu.Kernels, got, gpu.Upload(a), gpu.Upload(b), m, n, k, transposeA, transposeB, accumulate);
        var result = GpuFixture.Download(got);
        TestArrays.AssertClose(want, result, $"m={m} n={n} k={k} tA={transposeA} tB={transposeB} acc={accumulate}", 1e-5);
        return result;
    }
}
