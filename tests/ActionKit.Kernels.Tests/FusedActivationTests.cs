using ActionKit.Kernels.Cpu;

namespace ActionKit.Kernels.Tests;

/// <summary>
/// BatchNorm and the squeeze-excitation channel scale, each fused with an activation, against plain loops in double
/// at every vector width (channel counts that leave a masked last vector), and the same bits for one or two threads.
/// </summary>
public sealed unsafe class FusedActivationTests
{
    static double Act(Activation activation, double v) => activation switch
    {
        Activation.Relu => Math.Max(v, 0),
        Activation.Swish => v / (1 + Math.Exp(-v)),
        _ => v,
    };

    static double Slope(Activation activation, double v)
    {
        double s = 1 / (1 + Math.Exp(-v));
        return activation switch
        {
            Activation.Relu => v > 0 ? 1 : 0,
            Activation.Swish => s + v * s * (1 - s),
            _ => 1,
        };
    }

    public static TheoryData<int, int, Activation> BatchNormCases => new()
    {
        { 5, 3, Activation.None }, { 1037, 13, Activation.Relu }, { 600, 54, Activation.Swish }, { 3000, 24, Activation.None }, { 257, 40, Activation.Relu },
    };

    [Theory]
    [MemberData(nameof(BatchNormCases))]
    public void BatchNormMatchesPlainLoopsAtEveryWidth(int rows, int channels, Activation activation)
    {
        var random = new Random(rows * 31 + channels);
        var (x, gamma, beta, dy) = (TestArrays.Random(random, rows * channels), TestArrays.Random(random, channels),
            TestArrays.Random(random, channels), TestArrays.Random(random, rows * channels));
        var want = new BatchNormResult(rows, channels);
        for (int c = 0; c < channels; c++)
        {
            double m = 0, v = 0;
            for (int r = 0; r < rows; r++)
                m += x[r * channels + c] / (double)rows;
            for (int r = 0; r < rows; r++)
                v += Math.Pow(x[r * channels + c] - m, 2) / rows;
            double s = 1 / Math.Sqrt(v + 1e-5), sumG = 0, sumGx = 0;
            (want.Mean[c], want.InvStd[c]) = ((float)m, (float)s);
            want.RunningVar[c] = (float)(0.9 + 0.1 * (rows > 1 ? v * rows / (rows - 1) : v));
            var g = new double[rows];
            for (int r = 0; r < rows; r++)
            {
                int i = r * channels + c;
                double pre = gamma[c] * (x[i] - m) * s + beta[c];
                want.Y[i] = (float)Act(activation, pre);
                g[r] = dy[i] * Slope(activation, pre);
                sumG += g[r];
                sumGx += g[r] * (x[i] - m) * s;
            }
            (want.DBeta[c], want.DGamma[c]) = ((float)sumG, (float)sumGx);
            for (int r = 0; r < rows; r++)
                want.DX[r * channels + c] = (float)(gamma[c] * s * (g[r] - (sumG + (x[r * channels + c] - m) * s * sumGx) / rows));
        }
        foreach (int width in TestArrays.Widths)
        {
            var got = RunBatchNorm(x, gamma, beta, dy, rows, channels, activation, width, 2);
            foreach (var (name, expected, actual) in want.Fields.Zip(got.Fields, (w, a) => (w.Name, w.Values, a.Values)))
                TestArrays.AssertClose(expected, actual, $"{name} rows={rows} C={channels} {activation} width={width}");
        }
        var twoThreads = RunBatchNorm(x, gamma, beta, dy, rows, channels, activation, 16, 2);
        var oneThread = RunBatchNorm(x, gamma, beta, dy, rows, channels, activation, 16, 1);
        Assert.Equal(oneThread.Fields.SelectMany(f => f.Values), twoThreads.Fields.SelectMany(f => f.Values));
    }

    sealed class BatchNormResult(int rows, int channels)
    {
        public readonly float[] Y = new float[rows * channels], DX = new float[rows * channels];
        public readonly float[] Mean = new float[channels], InvStd = new float[channels], RunningVar = new float[channels];
        public readonly float[] DGamma = new float[channels], DBeta = new float[channels];

        public IEnumerable<(string Name, float[] Values)> Fields =>
            [("y", Y), ("dx", DX), ("mean", Mean), ("invStd", InvStd), ("runningVar", RunningVar), ("dGamma", DGamma), ("dBeta", DBeta)];
    }

    static BatchNormResult RunBatchNorm(float[] x, float[] gamma, float[] beta, float[] dy, int rows, int channels,
        Activation activation, int width, int threads)
    {
        var result = new BatchNormResult(rows, channels);
        Array.Fill(result.RunningVar, 1f);
        var runningMean = new float[channels];
        TestArrays.With(width, threads, () =>
        {
            fixed (float* py = result.Y, pm = result.Mean, ps = result.InvStd, prm = runningMean, prv = result.RunningVar, px = x,
                   pg = gamma, pb = beta, pdg = result.DGamma, pdb = result.DBeta, pdx = result.DX, pdy = dy)
            {
                BatchNorm.ForwardTraining(py, pm, ps, prm, prv, px, pg, pb, rows, 1, channels, 0.1f, 1e-5f, activation);
                BatchNorm.Backward(pdx, pdg, pdb, pdy, px, pg, pb, pm, ps, rows, 1, channels, activation);
            }
        });
        return result;
    }

    [Theory]
    [InlineData(11, Activation.None)]
    [InlineData(54, Activation.Swish)]
    public void ChannelScaleMatchesPlainLoopsAtEveryWidth(int channels, Activation activation)
    {
        const int batch = 3, positions = 37;
        var random = new Random(channels);
        var (x, scale, dy) = (TestArrays.Random(random, batch * positions * channels), TestArrays.Random(random, batch * channels),
            TestArrays.Random(random, batch * positions * channels));
        var (wantY, wantDx, wantDScale) = (new float[x.Length], new float[x.Length], new float[scale.Length]);
        for (int n = 0; n < batch; n++)
            for (int c = 0; c < channels; c++)
            {
                double sum = 0;
                for (int s = 0; s < positions; s++)
                {
                    int i = (n * positions + s) * channels + c;
                    double v = (double)x[i] * scale[n * channels + c], g = dy[i] * Slope(activation, v);
                    wantY[i] = (float)Act(activation, v);
                    wantDx[i] = (float)(g * scale[n * channels + c]);
                    sum += g * x[i];
                }
                wantDScale[n * channels + c] = (float)sum;
            }
        foreach (int width in TestArrays.Widths)
        {
            var (y, dx, dScale) = (TestArrays.Stale(x.Length), TestArrays.Stale(x.Length), TestArrays.Stale(scale.Length));
            TestArrays.With(width, 2, () =>
            {
                fixed (float* px = x, ps = scale, pdy = dy, py = y, pdx = dx, pds = dScale)
                {
                    ChannelScale.Forward(py, px, ps, batch, positions, channels, activation);
                    ChannelScale.Backward(pdx, pds, pdy, px, ps, batch, positions, channels, activation);
                }
            });
            TestArrays.AssertClose(wantY, y, $"y width={width}");
            TestArrays.AssertClose(wantDx, dx, $"dx width={width}");
            TestArrays.AssertClose(wantDScale, dScale, $"dScale width={width}");
        }
    }

    [Fact]
    public void ExpIsAccurateOverTheFloatRangeAtEveryWidth()
    {
        var x = Enumerable.Range(0, 20_001).Select(i => -87f + 175f * i / 20_000).Concat([0f, -1e-8f, 1e-8f, -0.3465736f, 0.3465736f]).ToArray();
        foreach (int width in TestArrays.Widths)
        {
            var y = new float[x.Length];
            TestArrays.With(width, 1, () =>
            {
                fixed (float* px = x, py = y)
                {
                    var job = new ExpJob(py, px, x.Length);
                    Simd.Run(ref job, int.MaxValue);
                }
            });
            for (int i = 0; i < x.Length; i++)
            {
                double want = Math.Exp(x[i]), error = Math.Abs(y[i] - want) / want;
                Assert.True(error < 1e-6, $"exp({x[i]}) = {y[i]}, want {want} (relative error {error:E2}, width {width})");
            }
        }
    }

    readonly struct ExpJob(float* y, float* x, int count) : ISimdKernel
    {
        public void Run<TSimd, TVector>() where TSimd : struct, ISimd<TVector> where TVector : struct
        {
            for (int i = 0; i < count; i += TSimd.Width)
            {
                int lanes = Math.Min(TSimd.Width, count - i);
                TSimd.StoreFirst(y + i, Simd.Exp<TSimd, TVector>(TSimd.LoadFirst(x + i, lanes)), lanes);
            }
        }
    }
}
