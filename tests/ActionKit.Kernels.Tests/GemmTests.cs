using ActionKit.Kernels.Cpu;

namespace ActionKit.Kernels.Tests;

public unsafe class GemmTests
{
    /// <summary>Edge sizes (1, odd, below and above a tile), the engine's shapes, several depth blocks, and a deep k
    /// with small m·n that takes the depth-split path.</summary>
    public static TheoryData<int, int, int> Shapes => new()
    {
        { 1, 1, 1 }, { 1, 37, 5 }, { 7, 1, 300 }, { 6, 32, 1 }, { 13, 17, 19 }, { 5, 300, 7 },
        { 100, 48, 108 }, { 150, 270, 520 }, { 48, 108, 2000 }, { 3, 5, 1024 },
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void MatchesReferenceForEveryTransposeAccumulateAndWidth(int m, int n, int k)
    {
        var random = new Random(m * 7919 + n * 31 + k);
        foreach (bool transposeA in new[] { false, true })
            foreach (bool transposeB in new[] { false, true })
                foreach (bool accumulate in new[] { false, true })
                {
                    var (a, b, c) = (TestArrays.Random(random, (long)m * k), TestArrays.Random(random, (long)k * n), TestArrays.Random(random, (long)m * n));
                    var want = (float[])c.Clone();
                    Reference.Multiply(want, a, b, m, n, k, transposeA, transposeB, accumulate);
                    foreach (int width in TestArrays.Widths)
                    {
                        var got = (float[])c.Clone();
                        TestArrays.With(width, 2, () => Multiply(got, a, b, m, n, k, transposeA, transposeB, accumulate));
                        TestArrays.AssertClose(want, got, $"m={m} n={n} k={k} tA={transposeA} tB={transposeB} acc={accumulate} width={width}");
                    }
                }
    }

    [Fact]
    public void RandomShapesMatchReference()
    {
        var random = new Random(20240611);
        for (int trial = 0; trial < 80; trial++)
        {
            int m = 1 + random.Next(random.Next(2) == 0 ? 8 : 90), n = 1 + random.Next(random.Next(2) == 0 ? 8 : 90), k = 1 + random.Next(random.Next(2) == 0 ? 8 : 300);
            bool transposeA = random.Next(2) == 0, transposeB = random.Next(2) == 0, accumulate = random.Next(2) == 0;
            int width = TestArrays.Widths[random.Next(TestArrays.Widths.Length)];
            var (a, b, c) = (TestArrays.Random(random, (long)m * k), TestArrays.Random(random, (long)k * n), TestArrays.Random(random, (long)m * n));
            var want = (float[])c.Clone();
            Reference.Multiply(want, a, b, m, n, k, transposeA, transposeB, accumulate);
            TestArrays.With(width, 2, () => Multiply(c, a, b, m, n, k, transposeA, transposeB, accumulate));
            TestArrays.AssertClose(want, c, $"trial {trial}: m={m} n={n} k={k} tA={transposeA} tB={transposeB} acc={accumulate} width={width}");
        }
    }

    [Theory]
    [InlineData(300, 70, 600, false)]
    [InlineData(20, 30, 5000, true)]
    public void ResultBitsDoNotDependOnRunOrThreadCount(int m, int n, int k, bool transposeA)
    {
        var random = new Random(5);
        var (a, b) = (TestArrays.Random(random, (long)m * k), TestArrays.Random(random, (long)k * n));
        float[] Run(int threads)
        {
            var c = new float[m * n];
            TestArrays.With(16, threads, () => Multiply(c, a, b, m, n, k, transposeA, false, false));
            return c;
        }
        var first = Run(2);
        Assert.Equal(first, Run(2));
        Assert.Equal(first, Run(1));
    }

    [Fact]
    public void RejectsNonPositiveSizes()
    {
        var data = new float[4];
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => Multiply(data, data, data, 2, 0, 2, false, false, false));
        Assert.Contains("n=0", error.Message);
    }

    static void Multiply(float[] c, float[] a, float[] b, int m, int n, int k, bool transposeA, bool transposeB, bool accumulate)
    {
        fixed (float* pc = c, pa = a, pb = b)
            Gemm.Multiply(pc, pa, pb, m, n, k, transposeA, transposeB, accumulate);
    }
}
