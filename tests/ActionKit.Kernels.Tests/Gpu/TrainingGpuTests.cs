using ActionKit.Kernels.Gpu;

namespace ActionKit.Kernels.Tests.Gpu;

/// <summary>The loss, optimizers, dropout, subsampling and fake quantization on the device against their CPU twins.</summary>
public unsafe class TrainingGpuTests(GpuFixture gpu) : IClassFixture<GpuFixture>
{
    [Theory]
    [InlineData(0f)]
    [InlineData(0.1f)]
    public void CrossEntropyMatchesCpu(float smoothing)
    {
        const int batch = 5, classes = 51;
        var random = new Random(7);
        float[] logits = TestArrays.Random(random, batch * classes).Select(v => v * 4).ToArray();
        int[] labels = Enumerable.Range(0, batch).Select(_ => random.Next(classes)).ToArray();
        float[] wantLosses = TestArrays.Stale(batch), wantProbabilities = TestArrays.Stale(batch * classes), wantGradient = TestArrays.Stale(batch * classes);
        double wantMean;
        fixed (float* losses = wantLosses, p = wantProbabilities, dz = wantGradient, z = logits)
        fixed (int* l = labels)
        {
            wantMean = Cpu.CrossEntropy.Forward(losses, p, z, l, batch, classes, smoothing);
            Cpu.CrossEntropy.Backward(dz, p, l, batch, classes, smoothing);
        }
        var (mean, lossesView, probabilities, gradient) = (gpu.Upload(new[] { float.NaN }), gpu.Upload(TestArrays.Stale(batch)),
            gpu.Upload(TestArrays.Stale(batch * classes)), gpu.Upload(TestArrays.Stale(batch * classes)));
        var labelsView = gpu.Upload(labels);
        CrossEntropy.Forward(gpu.Kernels, mean, lossesView, probabilities, gpu.Upload(logits), labelsView, batch, classes, smoothing);
        CrossEntropy.Backward(gpu.Kernels, gradient, probabilities, labelsView, batch, classes, smoothing);
        TestArrays.AssertClose([(float)wantMean], GpuFixture.Download(mean), "mean loss", 1e-5);
        TestArrays.AssertClose(wantLosses, GpuFixture.Download(lossesView), "losses", 1e-5);
        TestArrays.AssertClose(wantProbabilities, GpuFixture.Download(probabilities), "probabilities", 1e-5);
        TestArrays.AssertClose(wantGradient, GpuFixture.Download(gradient), "dLogits");
    }

    [Fact]
    public void OptimizersMatchCpu()
    {
        const int count = 777;
        var random = new Random(8);
        float[] parameters = TestArrays.Random(random, count), gradients = TestArrays.Random(random, count);
        float[] first = TestArrays.Random(random, count), second = TestArrays.Random(random, count).Select(Math.Abs).ToArray();
        float[] wantSgd = (float[])parameters.Clone(), wantMomentum = (float[])first.Clone();
        float[] wantAdam = (float[])parameters.Clone(), wantFirst = (float[])first.Clone(), wantSecond = (float[])second.Clone();
        fixed (float* sgd = wantSgd, momentum = wantMomentum, adam = wantAdam, m = wantFirst, v = wantSecond, g = gradients)
        {
            Cpu.Optimizers.Sgd(sgd, g, momentum, count, 0.1f, 0.9f, 1e-4f);
            Cpu.Optimizers.AdamW(adam, g, m, v, count, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.05f, 3);
        }
        var (sgdView, momentumView) = (gpu.Upload(parameters.ToArray()), gpu.Upload(first.ToArray()));
        var (adamView, firstView, secondView, gradientView) = (gpu.Upload(parameters.ToArray()), gpu.Upload(first.ToArray()), gpu.Upload(second.ToArray()), gpu.Upload(gradients));
        Optimizers.Sgd(gpu.Kernels, sgdView, gradientView, momentumView, count, 0.1f, 0.9f, 1e-4f);
        Optimizers.AdamW(gpu.Kernels, adamView, gradientView, firstView, secondView, count, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.05f, 3);
        TestArrays.AssertClose(wantSgd, GpuFixture.Download(sgdView), "sgd parameters", 1e-5);
        TestArrays.AssertClose(wantMomentum, GpuFixture.Download(momentumView), "sgd momentum", 1e-5);
        TestArrays.AssertClose(wantAdam, GpuFixture.Download(adamView), "adamw parameters", 1e-5);
        TestArrays.AssertClose(wantFirst, GpuFixture.Download(firstView), "adamw first moment", 1e-5);
        TestArrays.AssertClose(wantSecond, GpuFixture.Download(secondView), "adamw second moment", 1e-5);
    }

    /// <summary>The counter-based mask is the CPU's, bit for bit.</summary>
    [Fact]
    public void DropoutMatchesCpuExactly()
    {
        const int count = 1000;
        var random = new Random(9);
        float[] x = TestArrays.Random(random, count), dy = TestArrays.Random(random, count);
        float[] wantY = TestArrays.Stale(count), wantMask = TestArrays.Stale(count), wantDx = TestArrays.Stale(count);
        fixed (float* y = wantY, mask = wantMask, dx = wantDx, xp = x, dyp = dy)
        {
            Cpu.Dropout.Forward(y, mask, xp, count, 0.3f, 1234UL);
            Cpu.Dropout.Backward(dx, dyp, mask, count);
        }
        var (yv, maskv, dxv) = (gpu.Upload(TestArrays.Stale(count)), gpu.Upload(TestArrays.Stale(count)), gpu.Upload(TestArrays.Stale(count)));
        Dropout.Forward(gpu.Kernels, yv, maskv, gpu.Upload(x), count, 0.3f, 1234UL);
        Dropout.Backward(gpu.Kernels, dxv, gpu.Upload(dy), maskv, count);
        Assert.Equal(wantMask, GpuFixture.Download(maskv));
        Assert.Equal(wantY, GpuFixture.Download(yv));
        Assert.Equal(wantDx, GpuFixture.Download(dxv));
    }

    [Theory]
    [InlineData(2, 7, 5)]
    [InlineData(3, 6, 6)]
    public void SubsampleMatchesCpu(int stride, int height, int width)
    {
        const int batch = 2, depth = 3, channels = 5;
        var random = new Random(stride * 100 + height);
        int outHeight = (height + stride - 1) / stride, outWidth = (width + stride - 1) / stride;
        long full = (long)batch * depth * height * width * channels, sampled = (long)batch * depth * outHeight * outWidth * channels;
        float[] x = TestArrays.Random(random, full), dy = TestArrays.Random(random, sampled);
        float[] wantY = TestArrays.Stale(sampled), wantDx = TestArrays.Stale(full);
        fixed (float* y = wantY, dx = wantDx, xp = x, dyp = dy)
        {
            Cpu.Subsample.Forward(y, xp, batch, depth, height, width, channels, stride);
            Cpu.Subsample.Backward(dx, dyp, batch, depth, height, width, channels, stride);
        }
        var (yv, dxv) = (gpu.Upload(TestArrays.Stale(sampled)), gpu.Upload(TestArrays.Stale(full)));
        Subsample.Forward(gpu.Kernels, yv, gpu.Upload(x), batch, depth, height, width, channels, stride);
        Subsample.Backward(gpu.Kernels, dxv, gpu.Upload(dy), batch, depth, height, width, channels, stride);
        Assert.Equal(wantY, GpuFixture.Download(yv));
        Assert.Equal(wantDx, GpuFixture.Download(dxv));
    }

    /// <summary>Per-tensor and per-channel ranges, one of zero width, values past both ends and exact halves.</summary>
    [Fact]
    public void FakeQuantizeMatchesCpu()
    {
        const int channels = 3, rows = 40, count = channels * rows;
        var random = new Random(11);
        float[] x = TestArrays.Random(random, count).Select(v => v * 3).ToArray();
        x[0] = 0.5f;
        x[1] = -2.5f;
        float[] low = [-1f, -0.5f, 0.2f], high = [1f, 2f, 0.2f];
        foreach (int ranges in new[] { 1, channels })
        {
            float[] want = TestArrays.Stale(count);
            fixed (float* y = want, xp = x, l = low, h = high)
                Cpu.FakeQuantize.Forward(y, xp, l, h, ranges, channels, count, 256);
            var got = gpu.Upload(TestArrays.Stale(count));
            FakeQuantize.Forward(gpu.Kernels, got, gpu.Upload(x), gpu.Upload(low), gpu.Upload(high), ranges, channels, count, 256);
            Assert.Equal(want, GpuFixture.Download(got));
        }
    }
}
