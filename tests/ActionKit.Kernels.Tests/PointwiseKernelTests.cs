using ActionKit.Kernels.Cpu;

namespace ActionKit.Kernels.Tests;

/// <summary>
/// The channel-wise kernels (BatchNorm, activations, SE scale, bias, pooling, subsampling, dropout, cross-entropy,
/// optimizers) against plain loops written here, on random odd shapes, and the same bits
/// for one or two threads.
/// </summary>
public sealed unsafe class PointwiseKernelTests
{
    static float[] Random(int count, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, count).Select(_ => (float)(random.NextDouble() * 4 - 2)).ToArray();
    }

    static void Near(double expected, double actual) =>
        Assert.True(Math.Abs(expected - actual) <= 1e-4 * (1 + Math.Abs(expected)), $"expected {expected}, got {actual}");

    static T WithThreads<T>(int threads, Func<T> run)
    {
        int saved = CpuParallel.MaxThreads;
        CpuParallel.MaxThreads = threads;
        try
        {
            return run();
        }
        finally
        {
            CpuParallel.MaxThreads = saved;
        }
    }

    [Theory]
    [InlineData(1, 3, false)]
    [InlineData(1037, 13, true)]
    [InlineData(3000, 24, false)]
    public void BatchNormMatchesPlainLoops(int rows, int channels, bool relu)
    {
        var x = Random(rows * channels, 1);
        var gamma = Random(channels, 2);
        var beta = Random(channels, 3);
        var dy = Random(rows * channels, 4);
        float[] Run(out float[] mean, out float[] invStd, out float[] dGamma, out float[] dBeta, out float[] dx, out float[] runningVar)
        {
            var y = new float[x.Length];
            mean = new float[channels];
            invStd = new float[channels];
            dGamma = new float[channels];
            dBeta = new float[channels];
            dx = new float[x.Length];
            runningVar = Enumerable.Repeat(1f, channels).ToArray();
            var runningMean = new float[channels];
            fixed (float* py = y, pm = mean, ps = invStd, prm = runningMean, prv = runningVar, px = x, pg = gamma, pb = beta,
                   pdg = dGamma, pdb = dBeta, pdx = dx, pdy = dy)
            {
                BatchNorm.ForwardTraining(py, pm, ps, prm, prv, px, pg, pb, rows, channels, 0.1f, 1e-5f, relu);
                BatchNorm.Backward(pdx, pdg, pdb, pdy, px, py, pg, pm, ps, rows, channels, relu);
            }
            return y;
        }
        var y = Run(out var mean, out var invStd, out var dGamma, out var dBeta, out var dx, out var runningVar);

        for (int c = 0; c < channels; c++)
        {
            double m = 0, v = 0;
            for (int r = 0; r < rows; r++)
                m += x[r * channels + c] / (double)rows;
            for (int r = 0; r < rows; r++)
                v += Math.Pow(x[r * channels + c] - m, 2) / rows;
            double s = 1 / Math.Sqrt(v + 1e-5), sumG = 0, sumGx = 0;
            Near(m, mean[c]);
            Near(s, invStd[c]);
            Near(0.9 + 0.1 * (rows > 1 ? v * rows / (rows - 1) : v), runningVar[c]);
            var g = new double[rows];
            for (int r = 0; r < rows; r++)
            {
                int i = r * channels + c;
                double pre = gamma[c] * (x[i] - m) * s + beta[c], expected = relu ? Math.Max(pre, 0) : pre;
                Assert.True(Math.Abs(expected - y[i]) < 1e-3 * (1 + Math.Abs(expected)), $"y[{i}]");
                g[r] = relu && pre <= 0 ? 0 : dy[i];
                sumG += g[r];
                sumGx += g[r] * (x[i] - m) * s;
            }
            Assert.True(Math.Abs(sumG - dBeta[c]) < 1e-3 * (1 + Math.Abs(sumG)), $"dBeta[{c}]");
            Assert.True(Math.Abs(sumGx - dGamma[c]) < 1e-3 * (1 + Math.Abs(sumGx)), $"dGamma[{c}]");
            for (int r = 0; r < rows; r++)
            {
                double expected = gamma[c] * s * (g[r] - (sumG + (x[r * channels + c] - m) * s * sumGx) / rows);
                Assert.True(Math.Abs(expected - dx[r * channels + c]) < 1e-3 * (1 + Math.Abs(expected)), $"dx[{r},{c}]");
            }
        }
        var single = WithThreads(1, () => Run(out _, out _, out var g1, out _, out var dx1, out _).Concat(g1).Concat(dx1).ToArray());
        Assert.Equal(single, y.Concat(dGamma).Concat(dx).ToArray());
    }

    [Fact]
    public void ActivationsMatchTheirFormulas()
    {
        var x = Random(40_003, 5);
        var dy = Random(x.Length, 6);
        var (y, dx) = (new float[x.Length], new float[x.Length]);
        fixed (float* px = x, py = y, pdx = dx, pdy = dy)
        {
            Elementwise.Swish(py, px, x.Length);
            Elementwise.SwishBackward(pdx, pdy, px, x.Length);
            for (int i = 0; i < x.Length; i += 97)
            {
                double s = 1 / (1 + Math.Exp(-x[i]));
                Near(x[i] * s, y[i]);
                Near(dy[i] * (s + x[i] * s * (1 - s)), dx[i]);
            }
            Elementwise.Sigmoid(py, px, x.Length);
            Elementwise.SigmoidBackward(pdx, pdy, py, x.Length);
            for (int i = 0; i < x.Length; i += 97)
            {
                double s = 1 / (1 + Math.Exp(-x[i]));
                Near(s, y[i]);
                Near(dy[i] * s * (1 - s), dx[i]);
            }
            Elementwise.Relu(py, px, x.Length);
            Elementwise.ReluBackward(pdx, pdy, py, x.Length);
            for (int i = 0; i < x.Length; i++)
            {
                Assert.Equal(Math.Max(x[i], 0), y[i]);
                Assert.Equal(x[i] > 0 ? dy[i] : 0, dx[i]);
            }
        }
    }

    [Fact]
    public void ChannelScaleBiasAndPoolMatchPlainLoops()
    {
        const int batch = 3, positions = 37, channels = 11;
        var x = Random(batch * positions * channels, 7);
        var scale = Random(batch * channels, 8);
        var dy = Random(x.Length, 9);
        var (y, dx, dScale, pooled, dPool, dBias) = (new float[x.Length], new float[x.Length], new float[scale.Length],
            new float[batch * channels], new float[x.Length], new float[channels]);
        fixed (float* px = x, ps = scale, pdy = dy, py = y, pdx = dx, pds = dScale, pp = pooled, pdp = dPool, pdb = dBias)
        {
            ChannelScale.Forward(py, px, ps, batch, positions, channels);
            ChannelScale.Backward(pdx, pds, pdy, px, ps, batch, positions, channels);
            GlobalAveragePool.Forward(pp, px, batch, positions, channels);
            GlobalAveragePool.Backward(pdp, pp, batch, positions, channels);
            Bias.Backward(pdb, pdy, batch * positions, channels);
        }
        for (int n = 0; n < batch; n++)
            for (int c = 0; c < channels; c++)
            {
                double sum = 0, mean = 0;
                for (int s = 0; s < positions; s++)
                {
                    int i = (n * positions + s) * channels + c;
                    Near(x[i] * scale[n * channels + c], y[i]);
                    Near(dy[i] * scale[n * channels + c], dx[i]);
                    Near(pooled[n * channels + c] / positions, dPool[i]);
                    sum += dy[i] * x[i];
                    mean += x[i] / positions;
                }
                Near(sum, dScale[n * channels + c]);
                Near(mean, pooled[n * channels + c]);
            }
        for (int c = 0; c < channels; c++)
            Near(Enumerable.Range(0, batch * positions).Sum(r => (double)dy[r * channels + c]), dBias[c]);
    }

    [Fact]
    public void SubsampleTakesEveryStrideThPixelAndScattersBack()
    {
        const int n = 2, d = 2, h = 5, w = 7, c = 3;
        var x = Random(n * d * h * w * c, 10);
        var y = new float[n * d * 3 * 4 * c];
        var back = new float[x.Length];
        fixed (float* px = x, py = y, pb = back)
        {
            Subsample.Forward(py, px, n, d, h, w, c, 2);
            Subsample.Backward(pb, py, n, d, h, w, c, 2);
        }
        for (int plane = 0; plane < n * d; plane++)
            for (int i = 0; i < h; i++)
                for (int j = 0; j < w; j++)
                    for (int k = 0; k < c; k++)
                    {
                        int full = ((plane * h + i) * w + j) * c + k;
                        bool sampled = i % 2 == 0 && j % 2 == 0;
                        Assert.Equal(sampled ? x[full] : 0, back[full]);
                        if (sampled)
                            Assert.Equal(x[full], y[((plane * 3 + i / 2) * 4 + j / 2) * c + k]);
                    }
    }

    [Fact]
    public void DropoutIsACounterBasedMaskOfTheRightRate()
    {
        var x = Random(100_000, 14);
        var (y, mask, again) = (new float[x.Length], new float[x.Length], new float[x.Length]);
        fixed (float* px = x, py = y, pm = mask)
            Dropout.Forward(py, pm, px, x.Length, 0.3f, 99);
        WithThreads(1, () =>
        {
            fixed (float* px = x, pa = again, pm = new float[x.Length])
                Dropout.Forward(pa, pm, px, x.Length, 0.3f, 99);
            return 0;
        });
        Assert.Equal(y, again);
        double dropped = mask.Count(m => m == 0) / (double)mask.Length;
        Assert.InRange(dropped, 0.29, 0.31);
        Assert.All(mask, m => Assert.True(m == 0 || Math.Abs(m - 1 / 0.7f) < 1e-6));
    }

    [Fact]
    public void CrossEntropyMatchesLogSoftmax()
    {
        var logits = Random(3 * 4, 15);
        int[] labels = [2, 0, 3];
        var (losses, probabilities, dLogits) = (new float[3], new float[12], new float[12]);
        double mean;
        fixed (float* pl = losses, pp = probabilities, pz = logits, pd = dLogits)
        fixed (int* py = labels)
        {
            mean = CrossEntropy.Forward(pl, pp, pz, py, 3, 4, 0.1f);
            CrossEntropy.Backward(pd, pp, py, 3, 4, 0.1f);
        }
        double total = 0;
        for (int n = 0; n < 3; n++)
        {
            var row = logits.Skip(n * 4).Take(4).Select(v => (double)v).ToArray();
            double logSum = Math.Log(row.Sum(Math.Exp));
            double loss = -Enumerable.Range(0, 4).Sum(k => ((k == labels[n] ? 0.9 : 0) + 0.025) * (row[k] - logSum));
            Near(loss, losses[n]);
            total += loss / 3;
            for (int k = 0; k < 4; k++)
                Near((Math.Exp(row[k] - logSum) - ((k == labels[n] ? 0.9 : 0) + 0.025)) / 3, dLogits[n * 4 + k]);
        }
        Near(total, mean);
    }
}
