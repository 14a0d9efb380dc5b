using ActionKit.Kernels.Cpu;

namespace ActionKit.Kernels.Tests;

/// <summary>
/// The elementwise kernels (activations, bias, pooling, subsampling, dropout, cross-entropy, optimizers) against plain loops written here, on random odd shapes, and the same bits
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

    [Fact]
    public void ActivationsMatchTheirFormulasAtEveryWidth()
    {
        var x = Random(40_003, 5);
        var dy = Random(x.Length, 6);
        foreach (int width in TestArrays.Widths)
        {
            var (y, dx) = (TestArrays.Stale(x.Length), TestArrays.Stale(x.Length));
            TestArrays.With(width, 2, () =>
            {
                fixed (float* px = x, py = y, pdx = dx, pdy = dy)
                {
                    Elementwise.Sigmoid(py, px, x.Length);
                    Elementwise.SigmoidBackward(pdx, pdy, py, x.Length);
                }
            });
            for (int i = 0; i < x.Length; i++)
            {
                double s = 1 / (1 + Math.Exp(-x[i]));
                Near(s, y[i]);
                Near(dy[i] * s * (1 - s), dx[i]);
            }
            TestArrays.With(width, 2, () =>
            {
                fixed (float* px = x, py = y, pdx = dx, pdy = dy)
                {
                    Elementwise.Relu(py, px, x.Length);
                    Elementwise.ReluBackward(pdx, pdy, py, x.Length);
                }
            });
            for (int i = 0; i < x.Length; i++)
            {
                Assert.Equal(Math.Max(x[i], 0), y[i]);
                Assert.Equal(x[i] > 0 ? dy[i] : 0, dx[i]);
            }
            TestArrays.With(width, 2, () =>
            {
                fixed (float* px = x, py = y)
                    Elementwise.Swish(py, px, x.Length);
            });
            for (int i = 0; i < x.Length; i++)
                Near(x[i] / (1 + Math.Exp(-x[i])), y[i]);
        }
    }

    [Fact]
    public void FakeQuantizeRoundsToTheGridAndClampsToTheRange()
    {
        Assert.Equal(1.02f, FakeQuantize.Apply(1.024f, 0, 2.55f, 256), 5);
        Assert.Equal(2.55f, FakeQuantize.Apply(9f, 0, 2.55f, 256), 5);
        Assert.Equal(0f, FakeQuantize.Apply(-1f, 0, 2.55f, 256));
        Assert.Equal(-1.28f, FakeQuantize.Apply(-5f, -1.28f, 1.27f, 256), 5);
        Assert.Equal(-0.51f, FakeQuantize.Apply(-0.514f, -1.27f, 1.27f, 255), 5);
        // Half a step rounds to the even level, as QuantizeLinear does: 0.025 / 0.01 = 2.5 -> 2.
        Assert.Equal(0.02f, FakeQuantize.Apply(0.025f, 0, 2.55f, 256), 5);
        Assert.Equal(0.5f, FakeQuantize.Apply(3f, 0.5f, 0.5f, 256));
    }

    [Fact]
    public void FakeQuantizeOverChannelsUsesEachChannelsRangeOnOneOrTwoThreads()
    {
        const int channels = 7;
        var x = Random(channels * 5003, 31);
        float[] low = [0, -1, -0.5f, 0, -2, -0.1f, 0.3f], high = [1, 1, 0.5f, 2, 2, 0.1f, 0.3f];
        foreach (int threads in new[] { 1, 2 })
            foreach (int ranges in new[] { 1, channels })
            {
                var y = TestArrays.Stale(x.Length);
                TestArrays.With(16, threads, () =>
                {
                    fixed (float* px = x, py = y, pl = low, ph = high)
                        FakeQuantize.Forward(py, px, pl, ph, ranges, channels, x.Length, 256);
                });
                for (int i = 0; i < x.Length; i++)
                {
                    int c = ranges == 1 ? 0 : i % channels;
                    Assert.Equal(FakeQuantize.Apply(x[i], low[c], high[c], 256), y[i]);
                }
            }
    }

    [Fact]
    public void ResidualAddWithAndWithoutReluAtEveryWidth()
    {
        var (a, b) = (Random(1037, 23), Random(1037, 24));
        foreach (int width in TestArrays.Widths)
            foreach (bool relu in new[] { false, true })
            {
                var y = TestArrays.Stale(a.Length);
                TestArrays.With(width, 2, () =>
                {
                    fixed (float* py = y, pa = a, pb = b)
                        Elementwise.Add(py, pa, pb, a.Length, relu);
                });
                for (int i = 0; i < a.Length; i++)
                    Assert.Equal(relu ? Math.Max(a[i] + b[i], 0) : a[i] + b[i], y[i]);
            }
    }

    [Fact]
    public void OptimizersFollowTheTorchFormulasAtEveryWidth()
    {
        const int count = 1037;
        var (start, gradients, moments) = (Random(count, 20), Random(count, 21), Random(count, 22));
        var squares = moments.Select(m => m * m).ToArray();
        foreach (int width in TestArrays.Widths)
        {
            var (sgd, buffer, adam, first, second) = ((float[])start.Clone(), (float[])moments.Clone(), (float[])start.Clone(),
                (float[])moments.Clone(), (float[])squares.Clone());
            TestArrays.With(width, 2, () =>
            {
                fixed (float* ps = sgd, pb = buffer, pa = adam, pf = first, pq = second, pg = gradients)
                {
                    Optimizers.Sgd(ps, pg, pb, count, 0.1f, 0.9f, 0.01f);
                    Optimizers.AdamW(pa, pg, pf, pq, count, 0.01f, 0.9f, 0.999f, 1e-8f, 0.1f, step: 3);
                }
            });
            for (int i = 0; i < count; i++)
            {
                double g = gradients[i], momentum = 0.9 * moments[i] + g + 0.01 * start[i];
                Near(momentum, buffer[i]);
                Near(start[i] - 0.1 * momentum, sgd[i]);
                double m = 0.9 * moments[i] + 0.1 * g, v = 0.999 * squares[i] + 0.001 * g * g;
                Near(m, first[i]);
                Near(v, second[i]);
                double p = start[i] * (1 - 0.01 * 0.1) - 0.01 * (m / (1 - Math.Pow(0.9, 3))) / (Math.Sqrt(v / (1 - Math.Pow(0.999, 3))) + 1e-8);
                Near(p, adam[i]);
            }
        }
    }

    [Fact]
    public void BiasAndPoolMatchPlainLoops()
    {
        const int batch = 3, positions = 37, channels = 11;
        var x = Random(batch * positions * channels, 7);
        var dy = Random(x.Length, 9);
        var (pooled, dPool, dBias) = (new float[batch * channels], new float[x.Length], new float[channels]);
        var accumulated = (float[])dy.Clone();
        fixed (float* px = x, pdy = dy, pp = pooled, pdp = dPool, pdb = dBias, pa = accumulated)
        {
            GlobalAveragePool.Forward(pp, px, batch, positions, channels);
            GlobalAveragePool.Backward(pdp, pp, batch, positions, channels, accumulate: false);
            GlobalAveragePool.Backward(pa, pp, batch, positions, channels, accumulate: true);
            Bias.Backward(pdb, pdy, batch * positions, channels, batch);
        }
        for (int i = 0; i < x.Length; i++)
            Near(dy[i] + dPool[i], accumulated[i]);
        for (int n = 0; n < batch; n++)
            for (int c = 0; c < channels; c++)
            {
                double mean = 0;
                for (int s = 0; s < positions; s++)
                {
                    int i = (n * positions + s) * channels + c;
                    Near(pooled[n * channels + c] / positions, dPool[i]);
                    mean += x[i] / positions;
                }
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
