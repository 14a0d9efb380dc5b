using ActionKit.Kernels.Gpu;

namespace ActionKit.Kernels.Tests.Gpu;

/// <summary>The per-channel kernels and their deterministic reductions: BatchNorm, ChannelScale, GlobalAveragePool, Bias.</summary>
public unsafe class NormalizationGpuTests(GpuFixture gpu) : IClassFixture<GpuFixture>
{
    // 300 rows: two reduction chunks, the second partial; 37 channels: a full 32-channel tile and a partial one.
    const long Rows = 300;
    const int Channels = 37;

    [Theory]
    [InlineData(Activation.None)]
    [InlineData(Activation.Relu)]
    [InlineData(Activation.Swish)]
    public void BatchNormMatchesCpu(Activation activation)
    {
        var random = new Random((int)activation + 10);
        long count = Rows * Channels;
        // An offset mean, as after a convolution: the statistics must not lose the variance to it.
        float[] x = TestArrays.Random(random, count).Select(v => v + 3f).ToArray(), dy = TestArrays.Random(random, count);
        float[] gamma = TestArrays.Random(random, Channels), beta = TestArrays.Random(random, Channels);
        float[] runningMean = TestArrays.Random(random, Channels), runningVar = TestArrays.Random(random, Channels).Select(v => v + 2f).ToArray();
        float[] dGamma = TestArrays.Random(random, Channels), dBeta = TestArrays.Random(random, Channels);
        var want = new BatchNormBuffers(count, runningMean, runningVar, dGamma, dBeta);
        fixed (float* y = want.Y, mean = want.Mean, invStd = want.InvStd, rm = want.RunningMean, rv = want.RunningVar, xp = x, g = gamma, b = beta)
        fixed (float* yInference = want.YInference, dx = want.Dx, dg = want.DGamma, db = want.DBeta, dyp = dy)
        {
            Cpu.BatchNorm.ForwardTraining(y, mean, invStd, rm, rv, xp, g, b, Rows, 1, Channels, 0.1f, 1e-5f, activation);
            Cpu.BatchNorm.ForwardInference(yInference, xp, g, b, rm, rv, Rows, Channels, 1e-5f, activation);
            Cpu.BatchNorm.Backward(dx, dg, db, dyp, xp, g, b, mean, invStd, Rows, 1, Channels, activation);
        }

        var k = gpu.Kernels;
        var (xv, dyv, gv, bv) = (gpu.Upload(x), gpu.Upload(dy), gpu.Upload(gamma), gpu.Upload(beta));
        var (yv, meanv, invStdv, rmv, rvv) = (gpu.Upload(TestArrays.Stale(count)), gpu.Upload(TestArrays.Stale(Channels)), gpu.Upload(TestArrays.Stale(Channels)),
            gpu.Upload(runningMean), gpu.Upload(runningVar));
        var (yInferencev, dxv, dgv, dbv) = (gpu.Upload(TestArrays.Stale(count)), gpu.Upload(TestArrays.Stale(count)), gpu.Upload(dGamma), gpu.Upload(dBeta));
        BatchNorm.ForwardTraining(k, yv, meanv, invStdv, rmv, rvv, xv, gv, bv, Rows, Channels, 0.1f, 1e-5f, activation);
        BatchNorm.ForwardInference(k, yInferencev, xv, gv, bv, rmv, rvv, Rows, Channels, 1e-5f, activation);
        BatchNorm.Backward(k, dxv, dgv, dbv, dyv, xv, gv, bv, meanv, invStdv, Rows, Channels, activation);
        TestArrays.AssertClose(want.Y, GpuFixture.Download(yv), "y", 1e-5);
        TestArrays.AssertClose(want.Mean, GpuFixture.Download(meanv), "mean", 1e-5);
        TestArrays.AssertClose(want.InvStd, GpuFixture.Download(invStdv), "invStd", 1e-5);
        TestArrays.AssertClose(want.RunningMean, GpuFixture.Download(rmv), "running mean", 1e-5);
        TestArrays.AssertClose(want.RunningVar, GpuFixture.Download(rvv), "running var", 1e-5);
        TestArrays.AssertClose(want.YInference, GpuFixture.Download(yInferencev), "inference y", 1e-5);
        TestArrays.AssertClose(want.Dx, GpuFixture.Download(dxv), "dx");
        TestArrays.AssertClose(want.DGamma, GpuFixture.Download(dgv), "dGamma");
        TestArrays.AssertClose(want.DBeta, GpuFixture.Download(dbv), "dBeta");
    }

    /// <summary>The CPU twin's outputs: stale where overwritten, copies of the start values where updated in place.</summary>
    sealed class BatchNormBuffers(long count, float[] runningMean, float[] runningVar, float[] dGamma, float[] dBeta)
    {
        public readonly float[] Y = TestArrays.Stale(count), YInference = TestArrays.Stale(count), Dx = TestArrays.Stale(count);
        public readonly float[] Mean = TestArrays.Stale(Channels), InvStd = TestArrays.Stale(Channels);
        public readonly float[] RunningMean = (float[])runningMean.Clone(), RunningVar = (float[])runningVar.Clone();
        public readonly float[] DGamma = (float[])dGamma.Clone(), DBeta = (float[])dBeta.Clone();
    }

    [Theory]
    [InlineData(Activation.None)]
    [InlineData(Activation.Swish)]
    public void ChannelScaleMatchesCpu(Activation activation)
    {
        const int batch = 2;
        const long positions = 150;
        long count = batch * positions * Channels;
        var random = new Random(20 + (int)activation);
        float[] x = TestArrays.Random(random, count), dy = TestArrays.Random(random, count), scale = TestArrays.Random(random, batch * Channels);
        float[] wantY = TestArrays.Stale(count), wantDx = TestArrays.Stale(count), wantDScale = TestArrays.Stale(batch * Channels);
        fixed (float* y = wantY, dx = wantDx, ds = wantDScale, xp = x, dyp = dy, s = scale)
        {
            Cpu.ChannelScale.Forward(y, xp, s, batch, positions, Channels, activation);
            Cpu.ChannelScale.Backward(dx, ds, dyp, xp, s, batch, positions, Channels, activation);
        }
        var (yv, dxv, dsv) = (gpu.Upload(TestArrays.Stale(count)), gpu.Upload(TestArrays.Stale(count)), gpu.Upload(TestArrays.Stale(batch * Channels)));
        var (xv, dyv, sv) = (gpu.Upload(x), gpu.Upload(dy), gpu.Upload(scale));
        ChannelScale.Forward(gpu.Kernels, yv, xv, sv, batch, positions, Channels, activation);
        ChannelScale.Backward(gpu.Kernels, dxv, dsv, dyv, xv, sv, batch, positions, Channels, activation);
        TestArrays.AssertClose(wantY, GpuFixture.Download(yv), "y", 1e-5);
        TestArrays.AssertClose(wantDx, GpuFixture.Download(dxv), "dx");
        TestArrays.AssertClose(wantDScale, GpuFixture.Download(dsv), "dScale");
    }

    [Fact]
    public void GlobalAveragePoolAndBiasMatchCpu()
    {
        const int batch = 2;
        const long positions = 270;
        long count = batch * positions * Channels;
        var random = new Random(30);
        float[] x = TestArrays.Random(random, count), dy = TestArrays.Random(random, batch * Channels), dx = TestArrays.Random(random, count);
        float[] bias = TestArrays.Random(random, Channels), dBias = TestArrays.Random(random, Channels);
        float[] wantPooled = TestArrays.Stale(batch * Channels), wantDx = (float[])dx.Clone(), wantBiased = (float[])x.Clone(), wantDBias = (float[])dBias.Clone();
        fixed (float* pooled = wantPooled, dxp = wantDx, biased = wantBiased, db = wantDBias, xp = x, dyp = dy, b = bias)
        {
            Cpu.GlobalAveragePool.Forward(pooled, xp, batch, positions, Channels);
            Cpu.GlobalAveragePool.Backward(dxp, dyp, batch, positions, Channels, accumulate: true);
            Cpu.Bias.Forward(biased, b, batch * positions, Channels);
            Cpu.Bias.Backward(db, xp, batch * positions, Channels, batch);
        }
        var (xv, pooledv, dxv, biasedv, dbv) = (gpu.Upload(x), gpu.Upload(TestArrays.Stale(batch * Channels)), gpu.Upload(dx), gpu.Upload(x.ToArray()), gpu.Upload(dBias));
        GlobalAveragePool.Forward(gpu.Kernels, pooledv, xv, batch, positions, Channels);
        GlobalAveragePool.Backward(gpu.Kernels, dxv, gpu.Upload(dy), batch, positions, Channels, accumulate: true);
        Bias.Forward(gpu.Kernels, biasedv, gpu.Upload(bias), batch * positions, Channels);
        Bias.Backward(gpu.Kernels, dbv, xv, batch * positions, Channels);
        TestArrays.AssertClose(wantPooled, GpuFixture.Download(pooledv), "pooled", 1e-5);
        TestArrays.AssertClose(wantDx, GpuFixture.Download(dxv), "pool dx");
        TestArrays.AssertClose(wantBiased, GpuFixture.Download(biasedv), "biased", 1e-5);
        TestArrays.AssertClose(wantDBias, GpuFixture.Download(dbv), "dBias");
    }
}
