using ActionKit.Kernels.Cpu;

[assembly: CollectionBehavior(DisableTestParallelization = true)]

namespace ActionKit.Kernels.Tests;

/// <summary>Random data, tolerance checks, and the kernel settings (threads, vector width) the tests vary.</summary>
public static class TestArrays
{
    /// <summary>The vector widths of every kernel path: AVX-512, AVX2, 128-bit, scalar (paths the CPU lacks fall back).</summary>
    public static readonly int[] Widths = [16, 8, 4, 1];

    public static float[] Random(Random random, long length) =>
        Enumerable.Range(0, checked((int)length)).Select(_ => random.NextSingle() * 2 - 1).ToArray();

    /// <summary>NaNs in a buffer a kernel overwrites: stale values must not leak through.</summary>
    public static float[] Stale(long length) => Enumerable.Repeat(float.NaN, checked((int)length)).ToArray();

    /// <summary>
    /// Fails with the worst element when |got − want| exceeds tolerance · (|want| + rms(want)): relative to each
    /// value, with the typical magnitude as a floor where a sum cancels to near zero.
    /// </summary>
    public static void AssertClose(float[] want, float[] got, string what, double tolerance = 1e-4)
    {
        Assert.Equal(want.Length, got.Length);
        double rms = Math.Sqrt(want.Sum(v => (double)v * v) / Math.Max(1, want.Length));
        int worst = -1;
        double worstExcess = 0;
        for (int i = 0; i < want.Length; i++)
        {
            double excess = Math.Abs(got[i] - (double)want[i]) - tolerance * (Math.Abs(want[i]) + rms);
            if (excess > worstExcess || double.IsNaN(got[i]))
                (worst, worstExcess) = (i, double.IsNaN(got[i]) ? double.PositiveInfinity : excess);
        }
        Assert.True(worst < 0, worst < 0 ? "" : $"{what}: element {worst} is {got[worst]}, want {want[worst]} (rms {rms:G4})");
    }

    /// <summary>
    /// Runs a convolution's three passes (<paramref name="runAll"/>(output, dInput, dWeight)) at every vector width,
    /// from stale outputs and dWeight = <paramref name="dWeightStart"/>, and checks each result against the reference.
    /// </summary>
    public static void AssertConvolutionAtEveryWidth(ConvGeometry g, float[] wantOutput, float[] wantDInput, float[] wantDWeight,
        float[] dWeightStart, Action<float[], float[], float[]> runAll)
    {
        foreach (int width in Widths)
        {
            var (output, dInput, dWeight) = (Stale(g.OutputLength), Stale(g.InputLength), (float[])dWeightStart.Clone());
            With(width, 2, () => runAll(output, dInput, dWeight));
            AssertClose(wantOutput, output, $"forward {g} width={width}");
            AssertClose(wantDInput, dInput, $"backward-input {g} width={width}");
            AssertClose(wantDWeight, dWeight, $"backward-weight {g} width={width}");
        }
    }

    /// <summary>The integer kernels' paths (<see cref="Int8Gemm.Path"/>) this CPU runs.</summary>
    public static Int8Path[] Int8Paths => [.. Enum.GetValues<Int8Path>().Where(Int8Gemm.IsSupported)];

    /// <summary>Runs <paramref name="action"/> with the given kernel settings and integer path, restoring the defaults afterwards.</summary>
    public static void With(int maxWidth, int maxThreads, Int8Path path, Action action)
    {
        var saved = Int8Gemm.Path;
        Int8Gemm.Path = path;
        try
        {
            With(maxWidth, maxThreads, action);
        }
        finally
        {
            Int8Gemm.Path = saved;
        }
    }

    /// <summary>Runs <paramref name="action"/> with the given kernel settings, restoring the defaults afterwards.</summary>
    public static void With(int maxWidth, int maxThreads, Action action)
    {
        (int width, int threads) = (Simd.MaxWidth, CpuParallel.MaxThreads);
        (Simd.MaxWidth, CpuParallel.MaxThreads) = (maxWidth, maxThreads);
        try
        {
            action();
        }
        finally
        {
            (Simd.MaxWidth, CpuParallel.MaxThreads) = (width, threads);
        }
    }
}
